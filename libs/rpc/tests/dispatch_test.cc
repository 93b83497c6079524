#include "cloudillo/rpc/dispatch.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>

#include "cloudillo/core/deadline.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/v1/identity.grpc.pb.h"

namespace cloudillo::rpc {
namespace {

// ResolveTenant blocks on a gate when asked for "block", throws for "throw", and
// otherwise reports the deadline it saw.
class BlockingIdentity final : public cloudillo::v1::Identity::CallbackService {
 public:
  explicit BlockingIdentity(WorkerPool& pool) : pool_(pool) {}
  grpc::ServerUnaryReactor* ResolveTenant(grpc::CallbackServerContext* ctx,
                                          const cloudillo::v1::ResolveTenantRequest* req,
                                          cloudillo::v1::Tenant* out) override {
    return Serve(ctx, out, pool_, [this, req]() -> absl::StatusOr<cloudillo::v1::Tenant> {
      if (req->id_tag() == "block") gate.wait();
      if (req->id_tag() == "throw") throw std::runtime_error("boom");
      ++ran;
      cloudillo::v1::Tenant t;
      t.set_name(CurrentDeadline() == absl::InfiniteFuture() ? "no deadline" : "deadline");
      return t;
    });
  }
  // ServeDeferred: keys[0] "park" leaves the answer to the test (parked), "throw"
  // throws before answering, "answer-then-throw" answers and then throws.
  grpc::ServerUnaryReactor* GetTenantSettings(grpc::CallbackServerContext* ctx,
                                              const cloudillo::v1::TenantSettingsRequest* req,
                                              cloudillo::v1::TenantSettingsReply* out) override {
    return ServeDeferred(ctx, out, pool_, [this, req](auto done) {
      std::string mode = req->keys_size() > 0 ? req->keys(0) : "";
      if (mode == "throw") throw std::runtime_error("boom");
      cloudillo::v1::TenantSettingsReply reply;
      (*reply.mutable_values_json())["mode"] = mode;
      if (mode == "park") {
        std::lock_guard<std::mutex> lock(mu);
        parked = [done, reply] { done(reply); };
        return;
      }
      done(reply);
      if (mode == "answer-then-throw") throw std::runtime_error("late");
    });
  }
  std::function<void()> Parked() {
    std::lock_guard<std::mutex> lock(mu);
    return parked;
  }
  std::shared_future<void> gate;
  std::atomic<int> ran{0};
  std::mutex mu;
  std::function<void()> parked;

 private:
  WorkerPool& pool_;
};

struct Fixture {
  explicit Fixture(int queue) : pool({"test", 1, size_t(queue)}), service(pool) {
    server.AddService(&service);
    EXPECT_TRUE(server.Start("", nullptr).ok());
    stub = cloudillo::v1::Identity::NewStub(server.InProcessChannel());
  }
  ~Fixture() {
    server.Shutdown(absl::Seconds(1));
    pool.Shutdown();
  }
  std::future<grpc::Status> Settings(const std::string& mode, cloudillo::v1::TenantSettingsReply* out) {
    auto ctx = std::shared_ptr<grpc::ClientContext>(ContextWithDeadline(absl::Seconds(5)));
    cloudillo::v1::TenantSettingsRequest req;
    req.add_keys(mode);
    return std::async(std::launch::async,
                      [this, ctx, req, out] { return stub->GetTenantSettings(ctx.get(), req, out); });
  }
  std::future<grpc::Status> Call(const std::string& id, absl::Duration timeout, cloudillo::v1::Tenant* out) {
    auto ctx = std::shared_ptr<grpc::ClientContext>(ContextWithDeadline(timeout));
    cloudillo::v1::ResolveTenantRequest req;
    req.set_id_tag(id);
    return std::async(std::launch::async,
                      [this, ctx, req, out] { return stub->ResolveTenant(ctx.get(), req, out); });
  }
  WorkerPool pool;
  BlockingIdentity service;
  RpcServer server{std::make_shared<prometheus::Registry>()};
  std::unique_ptr<cloudillo::v1::Identity::Stub> stub;
};

TEST(Dispatch, HandlersSeeTheCallDeadline) {
  Fixture f(4);
  cloudillo::v1::Tenant t;
  grpc::Status st = f.Call("x", absl::Seconds(5), &t).get();
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(t.name(), "deadline");
}

TEST(Dispatch, FullQueueIsUnavailableAtOnceAndStaleCallsAreSkipped) {
  Fixture f(1);
  std::promise<void> open;
  f.service.gate = open.get_future().share();
  cloudillo::v1::Tenant a, b, c;
  auto busy = f.Call("block", absl::Seconds(5), &a);  // occupies the one worker
  while (f.pool.queued() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto queued = f.Call("x", absl::Milliseconds(200), &b);  // waits in the queue, expires there
  while (f.pool.queued() != 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  grpc::Status refused = f.Call("x", absl::Seconds(5), &c).get();  // queue full
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  open.set_value();
  EXPECT_TRUE(busy.get().ok());
  EXPECT_EQ(queued.get().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(f.service.ran.load(), 1);  // the expired call never ran
}

TEST(Dispatch, ExceptionsBecomeInternal) {
  Fixture f(4);
  cloudillo::v1::Tenant t;
  EXPECT_EQ(f.Call("throw", absl::Seconds(5), &t).get().error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_TRUE(f.Call("x", absl::Seconds(5), &t).get().ok());
}

TEST(Dispatch, DeferredAnswersFreeTheWorkerAndAnswerOnce) {
  Fixture f(4);  // one worker
  cloudillo::v1::TenantSettingsReply parked, now, late;
  auto waiting = f.Settings("park", &parked);
  while (!f.service.Parked()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The parked call holds no worker: the next call runs and is answered meanwhile.
  ASSERT_TRUE(f.Settings("now", &now).get().ok());
  EXPECT_EQ(now.values_json().at("mode"), "now");
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  std::thread([fn = f.service.Parked()] { fn(); }).join();  // answered from another thread
  ASSERT_TRUE(waiting.get().ok());
  EXPECT_EQ(parked.values_json().at("mode"), "park");
  EXPECT_EQ(f.Settings("throw", &now).get().error_code(), grpc::StatusCode::INTERNAL);
  grpc::Status answered = f.Settings("answer-then-throw", &late).get();
  EXPECT_TRUE(answered.ok()) << answered.error_message();
  EXPECT_EQ(late.values_json().at("mode"), "answer-then-throw");
}

TEST(DeadlineScope, NestsAndNeverExtends) {
  EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture());
  absl::Time soon = absl::Now() + absl::Seconds(1);
  {
    DeadlineScope a(soon);
    EXPECT_EQ(CurrentDeadline(), soon);
    {
      DeadlineScope b(soon + absl::Seconds(10));
      EXPECT_EQ(CurrentDeadline(), soon);
    }
  }
  EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture());
}

}  // namespace
}  // namespace cloudillo::rpc
