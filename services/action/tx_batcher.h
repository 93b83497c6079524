// Group commit of the inbox verifiers' writes: each verifier thread hands its
// transaction body (the action row, its supersession) to Run() and blocks; one thread
// runs the bodies that wait, each inside its own SAVEPOINT (RunAtomic: none), in one transaction and
// commits once, so one WAL flush (fsync) serves them all. A body that returns an error
// is rolled back to its savepoint alone. A body whose SQL failed poisons the shared
// transaction: then the whole group is rolled back and every body runs again in a
// transaction of its own, so one hostile token cannot fail its neighbours. Run()
// returns only after the commit that holds the body's writes (or its error).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "cloudillo/db/pool.h"

namespace prometheus {
class Histogram;
class Registry;
}  // namespace prometheus

namespace cloudillo::action {

// When a commit returns. kFlushed: after its WAL flush (fsync), as PostgreSQL does by
// default. kReplayable: without waiting for it, for a write that a durable queue row
// redoes until a later transaction deletes that row. WAL is flushed in order, so a
// crash that loses such a commit loses the delete too, and the row is replayed; any
// later flushed commit makes it durable as well.
enum class Durability { kFlushed, kReplayable };
// Makes the open transaction `tx` commit as `durability` says (first in it).
absl::Status SetDurability(db::Tx& tx, Durability durability);

class TxBatcher {
 public:
  using Body = std::function<absl::Status(db::Tx&)>;

  // max_batch stays at 32: every body is a subtransaction, and PostgreSQL keeps up to
  // 64 of them per transaction in shared memory before snapshots get slow.
  TxBatcher(db::Pool& pool, size_t max_batch, size_t max_queue, prometheus::Registry* registry);
  ~TxBatcher();
  TxBatcher(const TxBatcher&) = delete;
  TxBatcher& operator=(const TxBatcher&) = delete;

  // Like Pool::Transact(body). Unavailable without running when the queue is full or
  // the batcher stopped.
  absl::Status Run(const Body& body);
  // For a body that has written nothing when it returns an error (its only write is
  // its last statement, or it fails before writing): it runs without a savepoint, one
  // round trip and one subtransaction fewer. A body whose SQL fails still poisons the
  // group and runs again alone.
  absl::Status RunAtomic(const Body& body, Durability durability = Durability::kFlushed);
  void Stop();

 private:
  struct Job;
  absl::Status Submit(const Body& body, bool savepoint, Durability durability);
  void Loop();
  void RunGroup(std::vector<std::shared_ptr<Job>>& group);

  db::Pool& pool_;
  size_t max_batch_, max_queue_;
  prometheus::Histogram* group_size_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace cloudillo::action
