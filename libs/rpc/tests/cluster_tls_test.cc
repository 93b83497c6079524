#include "cloudillo/rpc/cluster_tls.h"

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <fstream>
#include <future>

#include "cloudillo/rpc/access_policy.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/testing/test_env.h"
#include "cloudillo/v1/identity.grpc.pb.h"

namespace cloudillo::rpc {
namespace {

ClusterTls Tls(const std::string& dir, const std::string& name) {
  ClusterTls t{dir + "/ca.crt", dir + "/" + name + ".crt", dir + "/" + name + ".key", ""};
  EXPECT_TRUE(t.Validate().ok()) << name;
  return t;
}

// Identity.ResolveTenant answers with the caller's identity as the tenant name.
class FakeIdentity final : public cloudillo::v1::Identity::CallbackService {
 public:
  grpc::ServerUnaryReactor* ResolveTenant(grpc::CallbackServerContext* ctx,
                                          const cloudillo::v1::ResolveTenantRequest* req,
                                          cloudillo::v1::Tenant* out) override {
    std::string caller = CallerIdentity(*ctx->auth_context());
    return ServeInline(ctx, out, [caller, req]() -> absl::StatusOr<cloudillo::v1::Tenant> {
      cloudillo::v1::Tenant t;
      t.set_id_tag(req->id_tag());
      t.set_name(caller);
      return t;
    });
  }
};

class ClusterTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = cloudillo::testing::MakeClusterCerts({"identity", "gateway", "access"});
    other_ = cloudillo::testing::MakeClusterCerts({"gateway"});
    auto policy = std::make_shared<AccessPolicy>();
    policy->Allow("/cloudillo.v1.Identity/ResolveTenant", {"gateway"});
    server_ = std::make_unique<RpcServer>(std::make_shared<prometheus::Registry>());
    server_->AddService(&service_);
    auto port = server_->Start("127.0.0.1:0", ServerCredentials(Tls(dir_, "identity"), policy));
    ASSERT_TRUE(port.ok()) << port.status();
    addr_ = "127.0.0.1:" + std::to_string(*port);
  }
  void TearDown() override { server_->Shutdown(absl::Seconds(1)); }

  grpc::Status Resolve(std::shared_ptr<grpc::Channel> ch, cloudillo::v1::Tenant* out) {
    auto stub = cloudillo::v1::Identity::NewStub(ch);
    cloudillo::v1::ResolveTenantRequest req;
    req.set_id_tag("alice.test");
    auto ctx = ContextWithDeadline(absl::Seconds(5));
    return stub->ResolveTenant(ctx.get(), req, out);
  }

  std::string dir_, other_, addr_;
  FakeIdentity service_;
  std::unique_ptr<RpcServer> server_;
};

TEST_F(ClusterTlsTest, AllowedCallerIsServedAndIdentified) {
  ClusterTls gw = Tls(dir_, "gateway");
  cloudillo::v1::Tenant t;
  grpc::Status st = Resolve(ConnectChannel(addr_, &gw, "identity"), &t);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(t.name(), "gateway");
  EXPECT_EQ(gw.identity, "gateway");
}

TEST_F(ClusterTlsTest, ValidPeerCallingAMethodItMayNotCallIsRefused) {
  ClusterTls access = Tls(dir_, "access");
  cloudillo::v1::Tenant t;
  grpc::Status st = Resolve(ConnectChannel(addr_, &access, "identity"), &t);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
}

TEST_F(ClusterTlsTest, UnknownMethodsAreRefusedBeforeRouting) {
  ClusterTls gw = Tls(dir_, "gateway");
  grpc::GenericStub stub(ConnectChannel(addr_, &gw, "identity"));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty(std::string(""));
  grpc::ByteBuffer req(&empty, 1), resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/cloudillo.v1.Nope/Nothing", grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status s) { done.set_value(s); });
  EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ClusterTlsTest, PlaintextAndForeignCertificatesAreRefused) {
  cloudillo::v1::Tenant t;
  EXPECT_EQ(Resolve(ConnectChannel(addr_, nullptr, "identity"), &t).error_code(), grpc::StatusCode::UNAVAILABLE);
  ClusterTls foreign = Tls(other_, "gateway");  // a gateway certificate from another CA
  EXPECT_EQ(Resolve(ConnectChannel(addr_, &foreign, "identity"), &t).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ClusterTlsTest, ClientRefusesAServerThatIsNotTheServiceItDialled) {
  ClusterTls gw = Tls(dir_, "gateway");
  cloudillo::v1::Tenant t;
  // The server is identity; a channel meant for access must not talk to it.
  EXPECT_EQ(Resolve(ConnectChannel(addr_, &gw, "access"), &t).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ClusterTlsValidate, ExplainsBadFiles) {
  std::string dir = cloudillo::testing::MakeClusterCerts({"gateway", "identity"});
  std::string other = cloudillo::testing::MakeClusterCerts({"gateway"});
  ClusterTls missing{dir + "/ca.crt", dir + "/nope.crt", dir + "/gateway.key", ""};
  EXPECT_NE(std::string(missing.Validate().message()).find("cannot be read"), std::string::npos);
  ClusterTls mismatched{dir + "/ca.crt", dir + "/gateway.crt", dir + "/identity.key", ""};
  EXPECT_NE(std::string(mismatched.Validate().message()).find("does not match"), std::string::npos);
  ClusterTls foreign{dir + "/ca.crt", other + "/gateway.crt", other + "/gateway.key", ""};
  EXPECT_NE(std::string(foreign.Validate().message()).find("not signed by"), std::string::npos);
  ClusterTls not_pem{dir + "/ca.crt", dir + "/gateway.key", dir + "/gateway.key", ""};
  EXPECT_NE(std::string(not_pem.Validate().message()).find("no PEM certificate"), std::string::npos);
  // The CA itself names no service.
  ClusterTls ca_only{dir + "/ca.crt", dir + "/ca.crt", dir + "/ca.key", ""};
  EXPECT_NE(std::string(ca_only.Validate().message()).find("cloudillo.internal"), std::string::npos);
}

TEST(AccessPolicy, ExactRulesWinAndUnknownIsDenied) {
  AccessPolicy p;
  p.Allow("/a.S/", {"gateway"}).Allow("/a.S/Special", {"admin"});
  EXPECT_TRUE(p.Permits("/a.S/Any", "gateway"));
  EXPECT_FALSE(p.Permits("/a.S/Any", "admin"));
  EXPECT_TRUE(p.Permits("/a.S/Special", "admin"));
  EXPECT_FALSE(p.Permits("/a.S/Special", "gateway"));
  EXPECT_FALSE(p.Permits("/a.T/Any", "gateway"));
  EXPECT_FALSE(p.Permits("/a.S/Any", ""));
  EXPECT_FALSE(p.Permits("garbage", "gateway"));
}

}  // namespace
}  // namespace cloudillo::rpc
