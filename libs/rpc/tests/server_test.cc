#include "cloudillo/rpc/server.h"

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <future>
#include <thread>

#include "cloudillo/rpc/channel.h"
#include "cloudillo/v1/identity.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace cloudillo::rpc {
namespace {

std::string Metrics(prometheus::Registry& r) { return prometheus::TextSerializer().Serialize(r.Collect()); }

TEST(RpcServer, HealthServesThenDrains) {
  auto registry = std::make_shared<prometheus::Registry>();
  RpcServer server(registry);
  cloudillo::v1::Identity::CallbackService unimplemented;
  server.AddService(&unimplemented);
  ASSERT_TRUE(server.Start("", nullptr).ok());
  auto stub = grpc::health::v1::Health::NewStub(server.InProcessChannel());
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  auto ctx = ContextWithDeadline(absl::Seconds(5));
  grpc::Status st = stub->Check(ctx.get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  server.SetServing(false);
  auto ctx2 = ContextWithDeadline(absl::Seconds(5));
  ASSERT_TRUE(stub->Check(ctx2.get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  // The interceptor records a call when it closes, which may be just after the reply.
  // Wait for the counter itself: the latency histogram's _count may reach 2 first.
  const std::string want =
      "cloudillo_grpc_server_calls_total{code=\"0\",method=\"/grpc.health.v1.Health/Check\"} 2";
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = Metrics(*registry);
    if (text.find(want) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(text.find(want), std::string::npos) << text;
  server.Shutdown(absl::Seconds(1));
}

TEST(RpcServer, HostileMethodNamesShareOneSeries) {
  auto registry = std::make_shared<prometheus::Registry>();
  RpcServer server(registry);
  cloudillo::v1::Identity::CallbackService unimplemented;
  server.AddService(&unimplemented);
  ASSERT_TRUE(server.Start("", nullptr).ok());
  grpc::GenericStub stub(server.InProcessChannel());
  for (int i = 0; i < 50; ++i) {
    grpc::ClientContext ctx;
    grpc::Slice empty(std::string(""));
    grpc::ByteBuffer req(&empty, 1), resp;
    std::promise<void> done;
    stub.UnaryCall(&ctx, "/evil.S" + std::to_string(i) + "/M" + std::string(i, 'x'), grpc::StubOptions(),
                   &req, &resp, [&](grpc::Status) { done.set_value(); });
    done.get_future().wait();
  }
  std::string text = Metrics(*registry);
  EXPECT_EQ(text.find("evil"), std::string::npos);
  server.Shutdown(absl::Seconds(1));
}

TEST(RpcServer, BadAddressIsUnavailable) {
  RpcServer server(std::make_shared<prometheus::Registry>());
  EXPECT_EQ(server.Start("256.1.1.1:99999", grpc::InsecureServerCredentials()).status().code(),
            absl::StatusCode::kUnavailable);
  RpcServer no_creds(std::make_shared<prometheus::Registry>());
  EXPECT_EQ(no_creds.Start("127.0.0.1:0", nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cloudillo::rpc
