// Delivers the outbox (PROTOCOL §2.9, §13.5): `POST https://cl-o.<recipient>/api/inbox`
// with {"token", "related"?}. Threads lease due rows (FOR UPDATE SKIP LOCKED, next_at
// moved past the request's deadline), so replicas share the work and a row whose
// worker died is due again. Outcomes are status-driven: 2xx delivered; 4xx other than
// 408/425/428/429 failed; a 428 on CONN* answered with a proof-of-work re-signing
// (E3–E5, E23); anything else retried after min(10 s·2^n, 12 h), at most 50 attempts.
// At most `per_destination` requests to one recipient at once per replica.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "action_store.h"
#include "cloudillo/cache/usage.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/rpc/dispatch.h"
#include "pipeline.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::action {

struct OutboxOptions {
  int threads = 4;
  int per_destination = 4;
  int batch = 8;
  absl::Duration idle_poll = absl::Milliseconds(200);
  // How long a claimed row stays invisible to other workers: past the request deadline
  // (10 s) with room for a proof-of-work re-signing. A worker that dies mid-delivery
  // leaves its rows due again after this.
  absl::Duration lease = absl::Seconds(90);
};

class OutboxWorker {
 public:
  OutboxWorker(ActionStore& store, Pipeline& pipeline, std::shared_ptr<federation::Client> client,
               OutboxOptions options, prometheus::Registry* registry);
  ~OutboxWorker();
  void Start();
  // Wakes an idle thread (a new delivery was queued by this replica).
  void Notify();
  void Stop();

  // Told of each delivery the recipient took (2xx): history sync starts a FLLW's pull
  // only once the peer has the FLLW (E9 recommend). Set before Start().
  using DeliveredFn = std::function<void(const Tenant& issuer, int64_t a_id, const std::string& recipient,
                                         const std::string& type)>;
  void OnDelivered(DeliveredFn fn) { delivered_ = std::move(fn); }
  // Federation traffic per tenant for the admin API's usage (deliveries taken, bytes
  // sent). Set before Start(); may stay unset.
  void CountUsage(cache::UsageRecorder* usage) { usage_ = usage; }

  // Parses the proof-of-work length of a 428 body (E4 recommend): details.required,
  // else "(N chars)" in the message, else the run of 'A's between quotes; 0 if none.
  static int PowRequired(const std::string& body);

  // §13.8: an ephemeral action (PRES) posted once to each recipient's inbox, on a small
  // bounded pool: no row, no retry (a late "typing" means nothing), dropped and counted
  // (reason "dropped") when the pool's queue is full. Registered with the pipeline by
  // the constructor.
  void SendEphemeral(const Tenant& tenant, const std::vector<std::string>& recipients,
                     const std::string& token);

 private:
  struct Job {
    int64_t tn_id, a_id;
    std::string recipient, token, issuer, type;
    std::vector<std::string> related;
    int attempts;
  };
  struct Metrics;
  void Run();
  void Deliver(const Job& job);
  void Finish(const Job& job, const std::string& state, int http_status, const std::string& error);
  void Retry(const Job& job, int http_status, const std::string& error, bool count_attempt = true);
  bool Acquire(const std::string& recipient);
  void Release(const std::string& recipient);

  ActionStore& store_;
  Pipeline& pipeline_;
  std::shared_ptr<federation::Client> client_;
  OutboxOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  std::map<std::string, int> in_flight_;
  DeliveredFn delivered_;
  cache::UsageRecorder* usage_ = nullptr;
  rpc::WorkerPool presence_{{"presence", 2, 1024, 0, nullptr}};
};

}  // namespace cloudillo::action
