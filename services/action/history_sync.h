// History sync (PROTOCOL §2.10, E9): when a link forms, pull the peer's recent posts.
//
// A durable job per (tenant, peer) in `history_sync` (migrations/V002) is queued:
//   - when our FLLW to the peer was delivered (2xx) plus `fllw_delay`, so the peer has
//     verified the FLLW before we ask (E9 recommend; the reference races it);
//   - at once when a connection forms (CONN:ACC sent or received, a mutual CONN).
// Threads lease due jobs like the outbox does. A job gets a proxy token for the peer
// (federation::ProxyExchange, §3.4), sends
// `GET https://cl-o.<peer>/api/outbox?since=<now − 30 d>&limit=10` with it, and feeds
// each item through Pipeline::Receive (the primary with the permission gate, its
// `related` tokens as E19 says). A 401/403 drops the cached token and is retried once
// after `retry_delay`, then the job ends quietly; transport and 5xx errors are retried
// with backoff a few times. Items are idempotent (the id is the token's hash).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "action_store.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/federation/proxy_exchange.h"
#include "outbox_worker.h"
#include "pipeline.h"

namespace cloudillo::action {

struct HistorySyncOptions {
  int threads = 1;
  absl::Duration fllw_delay = absl::Seconds(2);
  absl::Duration retry_delay = absl::Seconds(5);
  absl::Duration idle_poll = absl::Milliseconds(500);
  int since_days = 30;  // federation.history_sync.since_days default
  int limit = 10;       // federation.history_sync.limit default
  int max_attempts = 5;
};

class HistorySync {
 public:
  HistorySync(ActionStore& store, Pipeline& pipeline, std::shared_ptr<federation::Client> client,
              const Clock& clock, HistorySyncOptions options);
  ~HistorySync();

  // Hooks the triggers into the pipeline and the outbox. Call before either starts.
  void Attach(Pipeline& pipeline, OutboxWorker& outbox);
  // Queues (or re-queues) the pull of `peer`'s outbox for `tenant` after `delay`.
  absl::Status Schedule(const Tenant& tenant, const std::string& peer, absl::Duration delay);
  void Start();
  void Stop();

 private:
  struct Job {
    Tenant tenant;
    std::string peer;
    int attempts = 0, refused = 0;
  };
  void Run();
  void Pull(const Job& job);
  void Done(const Job& job, const std::string& state, const std::string& error);
  void Again(const Job& job, absl::Duration delay, bool refused, const std::string& error);

  ActionStore& store_;
  Pipeline& pipeline_;
  std::shared_ptr<federation::Client> client_;
  const Clock& clock_;
  HistorySyncOptions options_;
  federation::ProxyExchange proxy_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
};

}  // namespace cloudillo::action
