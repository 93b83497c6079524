#include "inbound_batcher.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <optional>

#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::action {

struct InboundBatcher::Waiter {
  InboundItem item;
  Done done;  // called once, outside the lock
};

struct InboundBatcher::Metrics {
  prometheus::Counter* refused = nullptr;
  prometheus::Histogram* batch = nullptr;
};

InboundBatcher::InboundBatcher(Writer writer, BatcherOptions options, prometheus::Registry* registry)
    : writer_(std::move(writer)), options_(options), metrics_(new Metrics) {
  if (options_.max_batch < 1) options_.max_batch = 1;
  if (registry) {
    metrics_->refused = &prometheus::BuildCounter()
                             .Name("cloudillo_inbox_queue_full_total")
                             .Help("POST /api/inbox refused with 503 because the group-commit queue was full")
                             .Register(*registry)
                             .Add({});
    metrics_->batch =
        &prometheus::BuildHistogram()
             .Name("cloudillo_inbox_commit_batch_size")
             .Help("Inbound tokens written per group commit")
             .Register(*registry)
             .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
  }
  for (size_t i = 0; i < std::max<size_t>(options_.flushers, 1); ++i)
    flushers_.emplace_back([this] { Run(); });
}

InboundBatcher::~InboundBatcher() { Stop(); }

void InboundBatcher::Stop() {
  std::deque<std::shared_ptr<Waiter>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    work_cv_.notify_all();
  }
  for (auto& t : flushers_)
    if (t.joinable()) t.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(queue_);
  }
  for (auto& w : left) w->done(absl::UnavailableError("inbox stopping"));
}

absl::Status InboundBatcher::Submit(InboundItem item) {
  struct Slot {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<absl::Status> status;
  };
  auto slot = std::make_shared<Slot>();
  CL_RETURN_IF_ERROR(SubmitAsync(std::move(item), [slot](absl::Status st) {
    std::lock_guard<std::mutex> lock(slot->mu);
    slot->status = std::move(st);
    slot->cv.notify_all();
  }));
  std::unique_lock<std::mutex> lock(slot->mu);
  slot->cv.wait(lock, [&] { return slot->status.has_value(); });
  return *slot->status;
}

absl::Status InboundBatcher::SubmitAsync(InboundItem item, Done done) {
  auto w = std::make_shared<Waiter>();
  w->item = std::move(item);
  w->done = std::move(done);
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::UnavailableError("inbox stopping");
  if (queue_.size() >= options_.max_queue) {
    if (metrics_->refused) metrics_->refused->Increment();
    return absl::UnavailableError("inbox queue full");
  }
  queue_.push_back(std::move(w));
  work_cv_.notify_one();
  return absl::OkStatus();
}

size_t InboundBatcher::Waiting() {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void InboundBatcher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
    if (stopped_) return;
    // Whatever arrived while the previous batch was committing forms the next one: no
    // timer, so a lone request waits for its own commit only.
    std::vector<std::shared_ptr<Waiter>> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    std::vector<InboundItem> items;
    items.reserve(batch.size());
    for (auto& w : batch) items.push_back(std::move(w->item));
    absl::Status st = writer_(items);
    if (!st.ok())
      LogWarn("inbox_commit_failed", {{"rows", int64_t(items.size())}, {"error", std::string(st.message())}});
    if (metrics_->batch) metrics_->batch->Observe(double(items.size()));
    for (auto& w : batch) w->done(st);
    lock.lock();
  }
}

}  // namespace cloudillo::action
