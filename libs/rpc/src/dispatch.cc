#include "cloudillo/rpc/dispatch.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "absl/time/clock.h"
#include "cloudillo/core/deadline.h"
#include "cloudillo/core/log.h"

namespace cloudillo::rpc {

struct WorkerPool::Metrics {
  Metrics(prometheus::Registry& r, const std::string& name)
      : depth(prometheus::BuildGauge()
                  .Name("cloudillo_worker_queue_depth")
                  .Help("Jobs waiting for a worker thread")
                  .Register(r)
                  .Add({{"pool", name}})),
        refused(prometheus::BuildCounter()
                    .Name("cloudillo_worker_refused_total")
                    .Help("Jobs refused because the worker queue was full")
                    .Register(r)
                    .Add({{"pool", name}})) {}
  prometheus::Gauge& depth;
  prometheus::Counter& refused;
};

WorkerPool::WorkerPool(Options options) : options_(std::move(options)) {
  if (options_.registry) metrics_ = std::make_unique<Metrics>(*options_.registry, options_.name);
  int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= options_.queue_limit) {
      if (metrics_) metrics_->refused.Increment();
      return false;
    }
    queue_.push_back(std::move(job));
    if (metrics_) metrics_->depth.Set(double(queue_.size()));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void WorkerPool::Run() {
  if (options_.nice != 0) {
    // Per-thread niceness (Linux): lowers only this pool's threads.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice);
  }
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      if (metrics_) metrics_->depth.Set(double(queue_.size()));
    }
    try {
      job();
    } catch (const std::exception& e) {
      LogError("unhandled_exception", {{"where", options_.name}, {"error", e.what()}});
    } catch (...) {
      LogError("unhandled_exception", {{"where", options_.name}, {"error", "non-standard exception"}});
    }
  }
}

namespace detail {
namespace {

grpc::Status Guarded(const std::function<grpc::Status()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    LogError("unhandled_exception", {{"where", "rpc_handler"}, {"error", e.what()}});
  } catch (...) {
    LogError("unhandled_exception", {{"where", "rpc_handler"}, {"error", "non-standard exception"}});
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
}

absl::Time DeadlineOf(grpc::CallbackServerContext* ctx) {
  auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

// A call whose deadline passed while it queued is not started.
bool FinishedLate(grpc::ServerUnaryReactor* reactor, absl::Time deadline) {
  if (absl::Now() < deadline) return false;
  reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed before the work began"));
  return true;
}

// Inline without a pool; a full pool is UNAVAILABLE at once.
void RunOn(WorkerPool* pool, grpc::ServerUnaryReactor* reactor, std::function<void()> run) {
  if (pool == nullptr) {
    run();
  } else if (!pool->TrySubmit(std::move(run))) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "overloaded: worker queue full"));
  }
}

}  // namespace

grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx, WorkerPool* pool,
                                   std::function<grpc::Status()> body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Time deadline = DeadlineOf(ctx);
  auto run = [reactor, deadline, body = std::move(body)] {
    if (FinishedLate(reactor, deadline)) return;
    DeadlineScope scope(deadline);
    reactor->Finish(Guarded(body));
  };
  RunOn(pool, reactor, std::move(run));
  return reactor;
}

grpc::ServerUnaryReactor* DispatchDeferred(grpc::CallbackServerContext* ctx, WorkerPool* pool,
                                           std::function<void(std::function<void(grpc::Status)>)> body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Time deadline = DeadlineOf(ctx);
  auto run = [reactor, deadline, body = std::move(body)] {
    if (FinishedLate(reactor, deadline)) return;
    // A handler that threw after handing `finish` on must not answer twice.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto finish = [reactor, answered](grpc::Status st) {
      if (!answered->exchange(true)) reactor->Finish(std::move(st));
    };
    DeadlineScope scope(deadline);
    grpc::Status st = Guarded([&] {
      body(finish);
      return grpc::Status::OK;
    });
    if (!st.ok()) finish(st);
  };
  RunOn(pool, reactor, std::move(run));
  return reactor;
}

}  // namespace detail
}  // namespace cloudillo::rpc
