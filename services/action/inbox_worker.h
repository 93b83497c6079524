// Verifies what POST /api/inbox queued (PROTOCOL §2.8, E1): threads lease due rows of
// `inbound` like the outbox does, run Pipeline::Receive, and delete the row once it is
// decided (the decided rows of a lease in one DELETE). Per lease, not per token: the
// dedupe lookup of the action ids (one query, KnownActions) and the bus messages of
// what was stored (one Redis round trip after those rows committed, BusBatch). A crash between the action's
// commit and that DELETE leaves the row to be leased again after two minutes; the
// action id then finds the stored row (E22) and it is not applied twice. Permanent refusals (bad token,
// signature, type, fields, gates) end at once and are not reported to the sender (E1); a key fetch that
// failed, or PostgreSQL or identity unavailable, is retried after min(60 s·2^n, 1 h), 10 attempts in all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "action_store.h"
#include "cloudillo/cache/usage.h"
#include "inbound_batcher.h"
#include "pipeline.h"
#include "pow_gate.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::action {

struct InboxOptions {
  int threads = 16;
  int batch = 32;  // rows one verifier leases at a time; their deletes share one statement
  absl::Duration idle_poll = absl::Milliseconds(200);
  BatcherOptions queue;  // group commit of POST /api/inbox
};

class InboxWorker {
 public:
  InboxWorker(ActionStore& store, Pipeline& pipeline, PowGate& pow, InboxOptions options,
              prometheus::Registry* registry);
  ~InboxWorker();
  void Start();
  // Queues a token for verification (POST /api/inbox): returns once its row is
  // committed, batched with concurrent requests (inbound_batcher.h), and wakes a verifier.
  absl::Status Enqueue(InboundItem item);
  // The same without waiting: `done` runs on the batcher's thread once the row is
  // committed (or its batch failed); a refusal is returned at once instead.
  absl::Status EnqueueAsync(InboundItem item, InboundBatcher::Done done);
  void Notify();
  void Stop();
  // Federation traffic per tenant for the admin API's usage (tokens accepted, their
  // bytes). Set before Start(); may stay unset.
  void CountUsage(cache::UsageRecorder* usage) { usage_ = usage; }

  // Whether a Receive() error ends the row (true) or is worth a retry.
  static bool IsPermanent(const absl::Status& st);

 private:
  struct Metrics;
  void Run();
  // The action ids of a lease's tokens, looked up in one query (dedupe, E22).
  KnownActions LookUp(const std::vector<db::Row>& lease);

  ActionStore& store_;
  Pipeline& pipeline_;
  PowGate& pow_;
  InboxOptions options_;
  std::unique_ptr<Metrics> metrics_;
  InboundBatcher batcher_;
  std::vector<std::thread> threads_;
  cache::UsageRecorder* usage_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  // Committed rows no idle verifier has gone for yet. A commit wakes one verifier per
  // lease's worth of rows, not all of them: every woken verifier runs the claim query.
  size_t pending_rows_ = 0;
};

}  // namespace cloudillo::action
