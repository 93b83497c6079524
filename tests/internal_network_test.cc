// The internal network is hostile (DESIGN): every method of every service on every
// listener, called by every cluster identity, by a plaintext client and by a client
// whose certificate comes from another CA. Only the callers this file lists may get
// through; everyone else is refused before any handler runs. The expectations are
// written out here, apart from the policies in the services, so a policy that grows
// by mistake fails this test; a new method without an expectation fails it too.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "access_policy.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/v1/admin.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "identity_policy.h"
#include "services_fixture.h"

namespace cloudillo::testing {
namespace {

const std::vector<std::string> kIdentities = {"gateway", "identity", "access", "admin"};

// Who may call each method ("Service.*" covers a whole service).
const std::map<std::string, std::set<std::string>> kExpected = {
    {"cloudillo.v1.IdentityEdge.*", {"gateway"}},
    {"cloudillo.v1.AccessEdge.*", {"gateway"}},
    // blob may call it too (its storage quota); not among the identities this test plays.
    {"cloudillo.v1.Identity.ResolveTenant", {"gateway"}},
    // blob too (a remote file's tenant, for its quota).
    {"cloudillo.v1.Identity.GetLoginProfile", {"access"}},
    // action may call these too; it is not among the identities this test plays.
    {"cloudillo.v1.Identity.SignAction", {"access"}},
    // action and blob (F and C files) too.
    {"cloudillo.v1.Identity.GetRelationships", {"access"}},
    {"cloudillo.v1.Identity.UpdateRelationship", {}},
    {"cloudillo.v1.Identity.ListFollowers", {}},
    {"cloudillo.v1.Identity.GetTenantSettings", {}},
    // blob only (PUT /api/me/image); not among the identities this test plays.
    {"cloudillo.v1.Identity.SetProfileImage", {}},
    {"cloudillo.v1.Access.GetTokenSecrets", {"gateway"}},
    {"cloudillo.v1.Access.ResolveApiKey", {"gateway"}},
    {"cloudillo.v1.Access.SetupTenant", {"identity"}},
    {"cloudillo.v1.Access.SetPassword", {"identity"}},
    {"cloudillo.v1.Access.RotateTokenSecret", {"identity"}},
    {"cloudillo.v1.Access.DeleteTenantCredentials", {"identity"}},
    {"cloudillo.v1.Access.ResealSecrets", {"identity"}},
    {"cloudillo.v1.Admin.*", {"admin"}},
};

std::set<std::string> Allowed(const google::protobuf::MethodDescriptor& m,
                              const std::set<std::string>& health) {
  std::string service = m.service()->full_name();
  if (service == "grpc.health.v1.Health") return health;
  if (auto it = kExpected.find(m.full_name()); it != kExpected.end()) return it->second;
  if (auto it = kExpected.find(service + ".*"); it != kExpected.end()) return it->second;
  ADD_FAILURE() << m.full_name() << " has no expectation in this test";
  return {};
}

struct Listener {
  std::string name;
  std::string address;
  std::vector<std::string> services;
  std::set<std::string> health;  // who may ask this listener's health
};

class InternalNetworkTest : public ServicesFixture {
 protected:
  void SetUp() override {
    ServicesFixture::SetUp();
    certs_ = MakeClusterCerts(kIdentities);
    foreign_ = MakeClusterCerts(kIdentities);
    // The same kinds of service objects as production, on network listeners with
    // the production credentials and policies.
    net_identity_ = std::make_unique<identity::IdentityService>(pool_, redis_, *master_, clock_, workers_);
    net_admin_ =
        std::make_unique<identity::AdminService>(pool_, redis_, *master_, clock_, kAdminToken, workers_);
    net_access_ = std::make_unique<access::AccessService>(access_pool_, redis_, *master_, clock_,
                                                          access::AccessOptions{absl::Milliseconds(10)},
                                                          workers_, password_workers_);
    ASSERT_TRUE(net_access_->Init().ok());
    auto start = [&](rpc::RpcServer& server, const std::string& id, rpc::AccessPolicy policy) -> std::string {
      auto port =
          server.Start("127.0.0.1:0",
                       rpc::ServerCredentials(Tls(certs_, id), std::make_shared<rpc::AccessPolicy>(policy)));
      EXPECT_TRUE(port.ok()) << port.status();
      return "127.0.0.1:" + std::to_string(port.ok() ? *port : 0);
    };
    identity_server_.AddService(net_identity_->internal_service());
    identity_server_.AddService(net_identity_->edge_service());
    admin_server_.AddService(net_admin_.get());
    access_server_.AddService(net_access_->internal_service());
    access_server_.AddService(net_access_->edge_service());
    listeners_ = {
        {"identity",
         start(identity_server_, "identity", identity::ListenerPolicy()),
         {"cloudillo.v1.Identity", "cloudillo.v1.IdentityEdge", "grpc.health.v1.Health"},
         {"gateway", "access", "admin"}},
        {"identity",
         start(admin_server_, "identity", identity::AdminListenerPolicy()),
         {"cloudillo.v1.Admin", "grpc.health.v1.Health"},
         {"admin"}},
        {"access",
         start(access_server_, "access", access::ListenerPolicy()),
         {"cloudillo.v1.Access", "cloudillo.v1.AccessEdge", "grpc.health.v1.Health"},
         {"gateway", "identity", "admin"}},
    };
  }

  void TearDown() override {
    identity_server_.Shutdown(absl::Seconds(1));
    admin_server_.Shutdown(absl::Seconds(1));
    access_server_.Shutdown(absl::Seconds(1));
    ServicesFixture::TearDown();
  }

  static rpc::ClusterTls Tls(const std::string& dir, const std::string& id) {
    rpc::ClusterTls t{dir + "/ca.crt", dir + "/" + id + ".crt", dir + "/" + id + ".key", ""};
    EXPECT_TRUE(t.Validate().ok());
    return t;
  }

  // An empty request (a valid empty message of every type) to `method`. A streaming
  // method admitted never ends by itself: its short deadline ends it.
  static grpc::Status Call(const std::shared_ptr<grpc::Channel>& ch, const std::string& method,
                           std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    grpc::GenericStub stub(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    grpc::Slice empty(std::string(""));
    grpc::ByteBuffer req(&empty, 1), resp;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp,
                   [&](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  }

  std::string certs_, foreign_;
  std::unique_ptr<identity::IdentityService> net_identity_;
  std::unique_ptr<identity::AdminService> net_admin_;
  std::unique_ptr<access::AccessService> net_access_;
  rpc::RpcServer identity_server_{std::make_shared<prometheus::Registry>()};
  rpc::RpcServer admin_server_{std::make_shared<prometheus::Registry>()};
  rpc::RpcServer access_server_{std::make_shared<prometheus::Registry>()};
  std::vector<Listener> listeners_;
};

TEST_F(InternalNetworkTest, EveryMethodAdmitsOnlyItsCallers) {
  // Descriptors register when their file is linked; these touch every one.
  (void)cloudillo::v1::Tenant::descriptor();
  (void)cloudillo::v1::TokenSecrets::descriptor();
  (void)cloudillo::v1::CreateTenantRequest::descriptor();
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int checked = 0;
  for (const Listener& l : listeners_) {
    std::map<std::string, std::shared_ptr<grpc::Channel>> channels;
    for (const auto& id : kIdentities) {
      rpc::ClusterTls tls = Tls(certs_, id);
      channels[id] = rpc::ConnectChannel(l.address, &tls, l.name);
    }
    rpc::ClusterTls foreign_gateway = Tls(foreign_, "gateway");
    auto foreign = rpc::ConnectChannel(l.address, &foreign_gateway, l.name);
    auto plaintext = rpc::ConnectChannel(l.address, nullptr, l.name);
    for (const auto& service_name : l.services) {
      const auto* service = pool->FindServiceByName(service_name);
      ASSERT_NE(service, nullptr) << service_name;
      for (int i = 0; i < service->method_count(); ++i) {
        const auto& m = *service->method(i);
        std::string path = "/" + service_name + "/" + m.name();
        std::set<std::string> allowed = Allowed(m, l.health);
        auto timeout =
            m.server_streaming() ? std::chrono::milliseconds(300) : std::chrono::milliseconds(3000);
        for (const auto& id : kIdentities) {
          grpc::Status st = Call(channels[id], path, timeout);
          // The policy refuses with "<caller> may not call <method>"; a handler that ran
          // may refuse the empty request for its own reasons, which proves it ran.
          bool refused_by_policy = st.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
                                   st.error_message().find("may not call") != std::string::npos;
          if (allowed.count(id)) {
            EXPECT_FALSE(refused_by_policy) << id << " should reach " << path << ": " << st.error_message();
          } else {
            EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << id << " reached " << path;
            EXPECT_NE(st.error_message().find("may not call"), std::string::npos) << st.error_message();
          }
        }
        EXPECT_EQ(Call(plaintext, path).error_code(), grpc::StatusCode::UNAVAILABLE) << "plaintext " << path;
        EXPECT_EQ(Call(foreign, path).error_code(), grpc::StatusCode::UNAVAILABLE) << "foreign CA " << path;
        ++checked;
      }
    }
    // A method no service has is refused like any other unlisted one.
    for (const auto& id : kIdentities) {
      EXPECT_EQ(Call(channels[id], "/cloudillo.v1.Nope/Nothing").error_code(),
                grpc::StatusCode::PERMISSION_DENIED);
    }
  }
  EXPECT_GE(checked, 40);  // every method of the six services
}

}  // namespace
}  // namespace cloudillo::testing
