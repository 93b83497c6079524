#include "tx_batcher.h"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>

#include "cloudillo/core/status_macros.h"

namespace cloudillo::action {
namespace {

// Sees whether a body's SQL failed: PostgreSQL then refuses everything up to a
// rollback, and the shared transaction is lost.
class TrackingTx final : public db::Tx {
 public:
  explicit TrackingTx(db::Tx& inner) : inner_(inner) {}
  absl::StatusOr<db::Result> Query(std::string_view sql, const std::vector<db::Param>& params) override {
    auto r = inner_.Query(sql, params);
    if (!r.ok()) failed_ = true;
    return r;
  }
  bool failed() const { return failed_; }

 private:
  db::Tx& inner_;
  bool failed_ = false;
};

}  // namespace

absl::Status SetDurability(db::Tx& tx, Durability durability) {
  if (durability == Durability::kFlushed) return absl::OkStatus();
  return tx.Query("SET LOCAL synchronous_commit = off").status();
}

struct TxBatcher::Job {
  const Body* body = nullptr;
  bool savepoint = true;
  Durability durability = Durability::kFlushed;
  bool done = false;
  absl::Status status;
  std::condition_variable cv;
};

TxBatcher::TxBatcher(db::Pool& pool, size_t max_batch, size_t max_queue, prometheus::Registry* registry)
    : pool_(pool), max_batch_(std::clamp<size_t>(max_batch, 1, 32)), max_queue_(max_queue) {
  if (registry) {
    group_size_ = &prometheus::BuildHistogram()
                       .Name("cloudillo_inbox_store_batch_size")
                       .Help("Received actions stored per group commit of the inbox verifiers")
                       .Register(*registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32});
  }
  thread_ = std::thread([this] { Loop(); });
}

TxBatcher::~TxBatcher() { Stop(); }

void TxBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& j : queue_) {
    j->status = absl::UnavailableError("store stopping");
    j->done = true;
    j->cv.notify_all();
  }
  queue_.clear();
}

absl::Status TxBatcher::Run(const Body& body) { return Submit(body, true, Durability::kFlushed); }

absl::Status TxBatcher::RunAtomic(const Body& body, Durability durability) {
  return Submit(body, false, durability);
}

absl::Status TxBatcher::Submit(const Body& body, bool savepoint, Durability durability) {
  auto job = std::make_shared<Job>();
  job->body = &body;
  job->savepoint = savepoint;
  job->durability = durability;
  std::unique_lock<std::mutex> lock(mu_);
  if (stopped_) return absl::UnavailableError("store stopping");
  if (queue_.size() >= max_queue_) return absl::UnavailableError("store queue full");
  queue_.push_back(job);
  cv_.notify_all();
  job->cv.wait(lock, [&] { return job->done; });
  return job->status;
}

void TxBatcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
    if (stopped_) return;
    std::vector<std::shared_ptr<Job>> group;
    while (!queue_.empty() && group.size() < max_batch_) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    RunGroup(group);
    if (group_size_) group_size_->Observe(double(group.size()));
    lock.lock();
    for (auto& j : group) {
      j->done = true;
      j->cv.notify_all();
    }
  }
}

void TxBatcher::RunGroup(std::vector<std::shared_ptr<Job>>& group) {
  // One body that must be flushed makes the whole group wait for the flush.
  bool replayable = std::all_of(group.begin(), group.end(),
                                [](const auto& j) { return j->durability == Durability::kReplayable; });
  absl::Status shared = pool_.Transact([&](db::Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(SetDurability(tx, replayable ? Durability::kReplayable : Durability::kFlushed));
    for (auto& j : group) {
      if (j->savepoint) CL_RETURN_IF_ERROR(tx.Query("SAVEPOINT job").status());
      TrackingTx jt(tx);
      j->status = (*j->body)(jt);
      if (jt.failed()) return absl::AbortedError("a body's SQL failed");
      if (!j->status.ok() && j->savepoint) CL_RETURN_IF_ERROR(tx.Query("ROLLBACK TO SAVEPOINT job").status());
    }
    return absl::OkStatus();
  });
  if (shared.ok()) return;
  // Nothing of the group is committed (or, after a lost connection at COMMIT, perhaps
  // all of it: the bodies then meet their own rows, as a retry would).
  for (auto& j : group) j->status = pool_.Transact(*j->body);
}

}  // namespace cloudillo::action
