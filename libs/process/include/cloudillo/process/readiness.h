// What a process reports on /readyz (libs/http/ops.h) and how it drains.
//
// Ready means this process can serve: it has started and is not draining. A shared
// dependency that is merely degraded (Redis down, PostgreSQL down) does not make it
// unready: every replica shares that dependency, and taking them all out of their
// Service would turn a degraded cluster into a dead one. Dependencies are checked in
// the background instead, shown in the /readyz body and exported as
// `cloudillo_dependency_up{dependency=…}` for alerts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
class Gauge;
}  // namespace prometheus

namespace cloudillo::process {

class Readiness {
 public:
  explicit Readiness(std::shared_ptr<prometheus::Registry> registry);
  ~Readiness();

  // A check run every 2 s on a background thread (it may block briefly).
  void AddDependency(std::string name, std::function<absl::Status()> check);
  void Start();  // begins the checks and reports ready
  void SetDraining();
  // For /readyz: never blocks.
  absl::Status Status() const;
  // One line per dependency ("redis: up", "postgres: degraded: …"), for the body.
  std::string Details() const;

 private:
  struct Dependency {
    std::string name;
    std::function<absl::Status()> check;
    prometheus::Gauge* up = nullptr;
    std::string problem;  // guarded by mu_
  };
  void Run();

  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Dependency>> deps_;
  std::atomic<bool> started_{false}, draining_{false};
  bool stop_ = false;
  std::thread thread_;
};

// Runs every function at once and returns when all have: listeners of one process
// stop together, so a drain takes one grace period, not one per listener.
void RunTogether(const std::vector<std::function<void()>>& fns);

}  // namespace cloudillo::process
