#include "cloudillo/process/readiness.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace cloudillo::process {

Readiness::Readiness(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {}

Readiness::~Readiness() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Readiness::AddDependency(std::string name, std::function<absl::Status()> check) {
  auto d = std::make_unique<Dependency>();
  d->name = std::move(name);
  d->check = std::move(check);
  if (registry_) {
    d->up = &prometheus::BuildGauge()
                 .Name("cloudillo_dependency_up")
                 .Help("1 while a dependency answers this process, else 0")
                 .Register(*registry_)
                 .Add({{"dependency", d->name}});
    d->up->Set(1);
  }
  std::lock_guard<std::mutex> lock(mu_);
  deps_.push_back(std::move(d));
}

void Readiness::Start() {
  started_ = true;
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void Readiness::SetDraining() { draining_ = true; }

absl::Status Readiness::Status() const {
  if (!started_) return absl::UnavailableError("starting");
  if (draining_) return absl::UnavailableError("draining");
  return absl::OkStatus();
}

std::string Readiness::Details() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& d : deps_) {
    out += d->name + (d->problem.empty() ? ": up\n" : ": degraded: " + d->problem + "\n");
  }
  return out;
}

void Readiness::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    for (auto& d : deps_) {
      auto check = d->check;
      lock.unlock();
      absl::Status st = check();
      lock.lock();
      d->problem = st.ok() ? "" : std::string(st.message());
      if (d->up) d->up->Set(st.ok() ? 1 : 0);
    }
    cv_.wait_for(lock, std::chrono::seconds(2), [&] { return stop_; });
  }
}

void RunTogether(const std::vector<std::function<void()>>& fns) {
  std::vector<std::thread> threads;
  for (const auto& f : fns) threads.emplace_back(f);
  for (auto& t : threads) t.join();
}

}  // namespace cloudillo::process
