#include "log_writer.h"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>

namespace cloudillo::collab {

LogWriter::LogWriter(DocStore& store, prometheus::Registry* registry) : store_(store) {
  if (registry) {
    batch_sizes_ = &prometheus::BuildHistogram()
                        .Name("cloudillo_collab_log_batch_updates")
                        .Help("Updates committed together by one group commit of the update log")
                        .Register(*registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
    commit_seconds_ = &prometheus::BuildHistogram()
                           .Name("cloudillo_collab_log_commit_seconds")
                           .Help("Duration of one group commit of the update log, its fsync included")
                           .Register(*registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.002, 0.005, 0.01, 0.02,
                                                                            0.05, 0.1, 0.2, 0.5, 1, 2, 5});
  }
  thread_ = std::thread([this] { Run(); });
}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void LogWriter::Append(AppendItem item, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(item), std::move(done)});
  }
  cv_.notify_one();
}

void LogWriter::Run() {
  std::vector<AppendItem> items;
  std::vector<Done> dones;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      size_t bytes = 0;
      while (!queue_.empty() && items.size() < kMaxBatch &&
             (items.empty() || bytes + queue_.front().item.update.size() <= kMaxBatchBytes)) {
        bytes += queue_.front().item.update.size();
        items.push_back(std::move(queue_.front().item));
        dones.push_back(std::move(queue_.front().done));
        queue_.pop_front();
      }
    }
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<int64_t>> seqs = store_.AppendBatch(items);
    if (commit_seconds_)
      commit_seconds_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (batch_sizes_) batch_sizes_->Observe(double(items.size()));
    for (size_t i = 0; i < items.size(); ++i) {
      if (seqs.ok())
        dones[i]((*seqs)[i], std::move(items[i].update));
      else
        dones[i](seqs.status(), std::move(items[i].update));
    }
    items.clear();
    dones.clear();
  }
}

}  // namespace cloudillo::collab
