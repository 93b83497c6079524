// Group commit of the update log (PROTOCOL §5.3). Every accepted update must be
// committed before anyone sees it; one transaction per update made the commit (four
// round trips and an fsync) the largest cost of a live edit. Here one thread commits
// whatever queued while the previous commit ran, for all documents at once
// (DocStore::AppendBatch): a quiet document waits for one commit as before, a busy
// process shares each commit among many updates.
//
// Bounded without a limit of its own: a connection sends its next message only after
// its last one was decided (crdt_socket.cc), so the queue holds at most one update per
// open connection, and a batch takes at most kMaxBatch updates or kMaxBatchBytes.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "doc_store.h"

namespace prometheus {
class Registry;
class Histogram;
}  // namespace prometheus

namespace cloudillo::collab {

class LogWriter {
 public:
  // The seq (or why not) and the update's bytes, handed back.
  using Done = std::function<void(absl::StatusOr<int64_t> seq, std::string update)>;
  static constexpr size_t kMaxBatch = 256;
  static constexpr size_t kMaxBatchBytes = 8u << 20;

  LogWriter(DocStore& store, prometheus::Registry* registry);
  // Commits what is queued, then ends.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // `done` runs on the writer's thread once the update is committed or failed, in queue
  // order: updates of one document are seen in seq order.
  void Append(AppendItem item, Done done);

 private:
  struct Pending {
    AppendItem item;
    Done done;
  };
  void Run();

  DocStore& store_;
  prometheus::Histogram* batch_sizes_ = nullptr;
  // How long one group commit takes (fsync included): an update waits for the commit
  // before it and its own, so a slow disk shows here first.
  prometheus::Histogram* commit_seconds_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cloudillo::collab
