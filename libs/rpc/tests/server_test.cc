#include "cloudillo/rpc/server.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <thread>

#include "cloudillo/v1/identity.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace cloudillo::rpc {
namespace {

TEST(RpcServer, HealthServesThenDrains) {
  auto registry = std::make_shared<prometheus::Registry>();
  RpcServer server(registry);
  cloudillo::v1::Identity::Service unimplemented;  // a sync server needs one service
  server.AddService(&unimplemented);
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_GT(*port, 0);
  auto stub = grpc::health::v1::Health::NewStub(ConnectChannel("127.0.0.1:" + std::to_string(*port)));
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
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = prometheus::TextSerializer().Serialize(registry->Collect());
    if (text.find("method=\"/grpc.health.v1.Health/Check\"} 2") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(
      text.find("cloudillo_grpc_server_calls_total{code=\"0\",method=\"/grpc.health.v1.Health/Check\"} 2"),
      std::string::npos)
      << text;
  server.Shutdown(absl::Seconds(1));
}

TEST(RpcServer, BadAddressIsUnavailable) {
  RpcServer server(std::make_shared<prometheus::Registry>());
  EXPECT_EQ(server.Start("256.1.1.1:99999").status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cloudillo::rpc
