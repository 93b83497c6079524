// Verifies what POST /api/inbox queued (PROTOCOL §2.8, E1): run Pipeline::Receive and
// delete the row once it is decided (the decided rows of a lease in one DELETE). A row
// this process committed is verified from memory: it is written leased to us (2 min),
// so no claim query is spent on it. Retries, rows of a process that died, and rows
// beyond the memory bound are leased from `inbound` like the outbox does, by one
// poll per `idle_poll` across the threads. Per lease, not per token: the
// dedupe lookup of the action ids (one query, KnownActions) and the bus messages of
// what was stored (one Redis round trip after those rows committed, BusBatch). A crash between the action's
// commit and that DELETE leaves the row to be leased again after two minutes; the
// action id then finds the stored row (E22) and it is not applied twice. Permanent refusals (bad token,
// signature, type, fields, gates) end at once and are not reported to the sender (E1); a key fetch that
// failed, or PostgreSQL or identity unavailable, is retried after min(60 s·2^n, 1 h), 10 attempts in all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
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
  size_t max_held = 4096;  // committed rows waiting in memory; more wait in `inbound`
  // The verifier threads' nice value. A POST waits for its commit, a verification for
  // nothing: when the cores are busy, answering peers goes first, and the verifiers
  // still get their share (nice 5 weighs a third of nice 0) and all idle time.
  int nice = 0;
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
  void Stop();
  // Federation traffic per tenant for the admin API's usage (tokens accepted, their
  // bytes). Set before Start(); may stay unset.
  void CountUsage(cache::UsageRecorder* usage) { usage_ = usage; }

  // Whether a Receive() error ends the row (true) or is worth a retry.
  static bool IsPermanent(const absl::Status& st);

 private:
  struct Metrics;
  // A leased row of `inbound`, from memory or from the claim query.
  struct Leased {
    int64_t tn_id = 0, in_id = 0;
    std::string tenant, token;
    std::vector<std::string> related;
    int attempts = 0;
    std::string client_ip;
  };
  void Run();
  // The group commit's writer: commits the rows and keeps those it may in memory.
  absl::Status Write(const std::vector<InboundItem>& items);
  // At most one thread per idle_poll asks PostgreSQL for due rows.
  bool PollDue();
  std::vector<Leased> Claim();
  void Verify(std::vector<Leased>& lease);
  // Counts a token's outcome; a decided one joins `decided` (its queue row goes), the
  // rest wait for a retry with backoff.
  void Settle(const Leased& r, const absl::StatusOr<Received>& outcome,
              std::vector<std::pair<int64_t, int64_t>>& decided);
  // The action ids of a lease's tokens, looked up in one query (dedupe, E22).
  KnownActions LookUp(const std::vector<Leased>& lease);

  ActionStore& store_;
  Pipeline& pipeline_;
  PowGate& pow_;
  InboxOptions options_;
  std::unique_ptr<Metrics> metrics_;
  InboundBatcher batcher_;
  std::vector<std::thread> threads_;
  cache::UsageRecorder* usage_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_poll_{0};  // steady-clock nanoseconds
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Leased> held_;  // committed by this process, not yet taken; bounded by max_held
};

}  // namespace cloudillo::action
