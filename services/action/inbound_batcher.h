// Group commit of POST /api/inbox (issue 10): concurrent requests wait here while a
// flusher thread writes every waiting token of the queue in one statement, so one WAL
// flush (fsync) serves a whole batch instead of one request (`flushers` such writes
// in flight at once). A request is answered
// only after the statement that holds its row committed; nothing is acknowledged from
// memory. The queue is bounded: once `max_queue` tokens wait, Submit refuses at once
// (Unavailable, 503) rather than let a sender grow the process.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::action {

struct InboundItem {
  int64_t tn_id = 0;
  std::string tenant, token;
  std::vector<std::string> related;
  std::string client_ip;
};

struct BatcherOptions {
  size_t max_queue = 2048;  // tokens waiting for their commit
  size_t max_batch = 256;   // rows in one INSERT
  // Writes in flight at once: while one waits for its fsync the next batch is already
  // being written, and PostgreSQL flushes commits that meet in one fsync.
  size_t flushers = 1;
};

class InboundBatcher {
 public:
  // Commits every item in one transaction, or none of them.
  using Writer = std::function<absl::Status(const std::vector<InboundItem>&)>;

  // Starts the flusher thread: requests may arrive as soon as the gRPC server listens.
  InboundBatcher(Writer writer, BatcherOptions options, prometheus::Registry* registry);
  ~InboundBatcher();
  InboundBatcher(const InboundBatcher&) = delete;
  InboundBatcher& operator=(const InboundBatcher&) = delete;

  // Fails what still waits (Unavailable) and ends the flusher; Submit refuses afterwards.
  void Stop();

  // Blocks until the item's row is committed (OK) or its batch failed (the writer's
  // error). Unavailable without waiting when the queue is full or the batcher stopped.
  absl::Status Submit(InboundItem item);
  // The same without a waiting thread: `done` gets that status on the flusher's thread
  // after the commit (or at Stop()). A refusal is returned at once and `done` not called.
  using Done = std::function<void(absl::Status)>;
  absl::Status SubmitAsync(InboundItem item, Done done);
  // Requests queued and not yet taken into a write.
  size_t Waiting();

 private:
  struct Waiter;
  struct Metrics;
  void Run();

  Writer writer_;
  BatcherOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<std::shared_ptr<Waiter>> queue_;
  bool stopped_ = false;
  std::vector<std::thread> flushers_;
};

}  // namespace cloudillo::action
