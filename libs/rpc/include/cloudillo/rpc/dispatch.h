// Serving gRPC calls with the callback API without blocking gRPC's own threads.
//
// Handlers that may block (PostgreSQL, Argon2, a blocking Redis command) run on a
// WorkerPool: a fixed number of threads with a bounded queue. A full queue answers
// UNAVAILABLE at once ("overloaded"; the gateway turns it into 503 E-SYS-UNAVAIL)
// instead of queueing without bound. Each handler runs with the call's deadline in a
// DeadlineScope (libs/db bounds its queries by it) and behind an exception barrier
// (INTERNAL, the process lives). A call whose deadline passed while it waited in the
// queue is answered DEADLINE_EXCEEDED without running: its caller has given up.
//
//   grpc::ServerUnaryReactor* GetMe(grpc::CallbackServerContext* ctx, const ApiRequest* req,
//                                   ApiReply* out) override {
//     return rpc::Serve(ctx, out, pool_, [=] { return DoGetMe(*req); });
//   }
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/rpc/status.h"
#include "grpcpp/grpcpp.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::rpc {

class WorkerPool {
 public:
  struct Options {
    std::string name = "workers";
    int threads = 8;
    size_t queue_limit = 256;
    // Scheduling niceness of the threads (e.g. 19 for password hashing, so that a
    // flood of logins yields the CPU to every other request).
    int nice = 0;
    prometheus::Registry* registry = nullptr;  // queue depth and refusals, when set
  };
  explicit WorkerPool(Options options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // false when the queue is full or the pool is shut down.
  bool TrySubmit(std::function<void()> job);
  // Refuses new work, finishes what is queued, joins the threads.
  void Shutdown();
  size_t queued() const;
  int threads() const { return int(threads_.size()); }

 private:
  void Run();
  struct Metrics;

  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::unique_ptr<Metrics> metrics_;
};

namespace detail {
// `pool` nullptr runs `body` inline on the calling thread.
grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx, WorkerPool* pool,
                                   std::function<grpc::Status()> body);

// `body(finish)` calls `finish` once, now or later from any thread; a throw before
// that answers INTERNAL.
grpc::ServerUnaryReactor* DispatchDeferred(grpc::CallbackServerContext* ctx, WorkerPool* pool,
                                           std::function<void(std::function<void(grpc::Status)>)> body);

template <typename Resp, typename F>
std::function<grpc::Status()> Body(Resp* out, F&& handler) {
  return [out, h = std::forward<F>(handler)]() mutable -> grpc::Status {
    absl::StatusOr<Resp> r = h();
    if (!r.ok()) return ToGrpcStatus(r.status());
    *out = std::move(*r);
    return grpc::Status::OK;
  };
}
template <typename Resp, typename F>
std::function<void(std::function<void(grpc::Status)>)> DeferredBody(Resp* out, F&& handler) {
  return [out, h = std::forward<F>(handler)](std::function<void(grpc::Status)> finish) mutable {
    h([out, finish = std::move(finish)](absl::StatusOr<Resp> r) {
      if (!r.ok()) return finish(ToGrpcStatus(r.status()));
      *out = std::move(*r);
      finish(grpc::Status::OK);
    });
  };
}
}  // namespace detail

// Runs `handler` (returning absl::StatusOr<Resp>) on `pool` and answers the call.
template <typename Resp, typename F>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, Resp* out, WorkerPool& pool, F&& handler) {
  return detail::Dispatch(ctx, &pool, detail::Body(out, std::forward<F>(handler)));
}

// For a handler that hands its answer to another thread instead of waiting for it (a
// group commit): `handler(done)` runs on `pool` and calls `done(absl::StatusOr<Resp>)`
// exactly once, before returning or later from any thread. The worker is free as soon
// as the handler returns.
template <typename Resp, typename F>
grpc::ServerUnaryReactor* ServeDeferred(grpc::CallbackServerContext* ctx, Resp* out, WorkerPool& pool,
                                        F&& handler) {
  return detail::DispatchDeferred(ctx, &pool, detail::DeferredBody(out, std::forward<F>(handler)));
}

// The same on gRPC's thread: only for a handler that never blocks before it hands on
// (whatever may block it submits to a pool itself). Saves the hop to a worker.
template <typename Resp, typename F>
grpc::ServerUnaryReactor* ServeDeferredInline(grpc::CallbackServerContext* ctx, Resp* out, F&& handler) {
  return detail::DispatchDeferred(ctx, nullptr, detail::DeferredBody(out, std::forward<F>(handler)));
}

// The same on gRPC's thread: only for handlers that never block (memory lookups).
template <typename Resp, typename F>
grpc::ServerUnaryReactor* ServeInline(grpc::CallbackServerContext* ctx, Resp* out, F&& handler) {
  return detail::Dispatch(ctx, nullptr, detail::Body(out, std::forward<F>(handler)));
}

}  // namespace cloudillo::rpc
