// Plans, tenants per plan, the plan limits ResolveTenant hands to the gateway and blob,
// and usage per tenant, through the admin gRPC API.
#include <gtest/gtest.h>

#include "cloudillo/cache/usage.h"
#include "cloudillo/rpc/channel.h"
#include "services_fixture.h"

namespace cloudillo::identity {
namespace {

using cloudillo::v1::Plan;

// blob's storage answer, per tenant, as the admin API asks for it.
class FakeBlob final : public cloudillo::v1::BlobInternal::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetStorageUsage(grpc::CallbackServerContext* ctx,
                                            const cloudillo::v1::TenantRef* req,
                                            cloudillo::v1::StorageUsage* out) override {
    out->set_stored_bytes(req->tn_id() * 1000);
    out->set_files(req->tn_id());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

class AdminPlansTest : public cloudillo::testing::ServicesFixture {
 protected:
  grpc::Status Upsert(const std::string& name, int64_t storage, int rpm, int rpd, int max_tenants,
                      Plan* out) {
    Plan p;
    p.set_name(name);
    p.set_storage_bytes(storage);
    p.set_requests_per_minute(rpm);
    p.set_requests_per_day(rpd);
    p.set_max_tenants(max_tenants);
    auto ctx = AdminContext();
    return admin_stub_->UpsertPlan(ctx.get(), p, out);
  }
  grpc::Status Assign(const std::string& id_tag, const std::string& plan) {
    cloudillo::v1::AssignPlanRequest r;
    r.set_id_tag(id_tag);
    r.set_plan(plan);
    cloudillo::v1::Tenant t;
    auto ctx = AdminContext();
    return admin_stub_->AssignPlan(ctx.get(), r, &t);
  }
  cloudillo::v1::Tenant Resolve(const std::string& id_tag) {
    auto stub = cloudillo::v1::Identity::NewStub(server_->InProcessChannel());
    cloudillo::v1::ResolveTenantRequest r;
    r.set_id_tag(id_tag);
    cloudillo::v1::Tenant t;
    auto ctx = rpc::ContextWithDeadline(absl::Seconds(5));
    EXPECT_TRUE(stub->ResolveTenant(ctx.get(), r, &t).ok());
    return t;
  }
  std::map<std::string, Plan> Plans() {
    cloudillo::v1::ListPlansReply reply;
    auto ctx = AdminContext();
    EXPECT_TRUE(admin_stub_->ListPlans(ctx.get(), cloudillo::v1::Empty(), &reply).ok());
    std::map<std::string, Plan> out;
    for (const auto& p : reply.plans()) out[p.name()] = p;
    return out;
  }
};

TEST_F(AdminPlansTest, PlansNeedTheTokenAndValidLimits) {
  Plan p;
  p.set_name("basic");
  Plan out;
  auto ctx = rpc::ContextWithDeadline(absl::Seconds(5));
  EXPECT_EQ(admin_stub_->UpsertPlan(ctx.get(), p, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Upsert("Bad Name", 0, 0, 0, 0, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Upsert("x;drop", 0, 0, 0, 0, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Upsert("basic", -1, 0, 0, 0, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Upsert("basic", 0, -5, 0, 0, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Plans().empty());
}

TEST_F(AdminPlansTest, TenantsPerPlanAreLimitedAtCreateAndAssign) {
  Plan out;
  ASSERT_TRUE(Upsert("small", 5000, 60, 1000, 2, &out).ok());
  EXPECT_EQ(out.max_tenants(), 2);
  EXPECT_EQ(out.tenants(), 0);
  cloudillo::v1::CreateTenantRequest req;
  req.set_password("password123");
  req.set_plan("small");
  cloudillo::v1::Tenant t;
  for (const char* id : {"p1.example.com", "p2.example.com"}) {
    req.set_id_tag(id);
    auto ctx = AdminContext();
    ASSERT_TRUE(admin_stub_->CreateTenant(ctx.get(), req, &t).ok()) << id;
    EXPECT_EQ(t.plan(), "small");
  }
  req.set_id_tag("p3.example.com");
  auto ctx = AdminContext();
  EXPECT_EQ(admin_stub_->CreateTenant(ctx.get(), req, &t).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // The refused tenant was not created.
  req.set_plan("");
  auto ctx2 = AdminContext();
  ASSERT_TRUE(admin_stub_->CreateTenant(ctx2.get(), req, &t).ok());
  EXPECT_EQ(Assign("p3.example.com", "small").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Assign("p3.example.com", "nonexistent").error_code(), grpc::StatusCode::NOT_FOUND);
  // A place frees up when a tenant leaves the plan; raising the limit makes room too.
  ASSERT_TRUE(Assign("p1.example.com", "").ok());
  ASSERT_TRUE(Assign("p3.example.com", "small").ok());
  EXPECT_EQ(Plans()["small"].tenants(), 2);
  ASSERT_TRUE(Upsert("small", 5000, 60, 1000, 3, &out).ok());
  EXPECT_TRUE(Assign("p1.example.com", "small").ok());
  EXPECT_EQ(Plans()["small"].tenants(), 3);
  // Unlimited (0) takes any number.
  ASSERT_TRUE(Upsert("big", 0, 0, 0, 0, &out).ok());
  for (const char* id : {"p1.example.com", "p2.example.com", "p3.example.com"})
    EXPECT_TRUE(Assign(id, "big").ok());
  // A plan with tenants cannot be deleted; an empty one can.
  cloudillo::v1::PlanByName del;
  del.set_name("big");
  cloudillo::v1::Empty e;
  auto ctx3 = AdminContext();
  EXPECT_EQ(admin_stub_->DeletePlan(ctx3.get(), del, &e).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  del.set_name("small");
  auto ctx4 = AdminContext();
  EXPECT_TRUE(admin_stub_->DeletePlan(ctx4.get(), del, &e).ok());
  EXPECT_EQ(Plans().count("small"), 0u);
}

TEST_F(AdminPlansTest, ResolveTenantCarriesThePlansLimits) {
  CreateTenant("q1.example.com");
  CreateTenant("q2.example.com");
  Plan out;
  ASSERT_TRUE(Upsert("pro", int64_t(5) << 30, 120, 50000, 0, &out).ok());
  ASSERT_TRUE(Assign("q1.example.com", "pro").ok());
  cloudillo::v1::Tenant t = Resolve("q1.example.com");
  EXPECT_EQ(t.plan(), "pro");
  EXPECT_EQ(t.storage_quota_bytes(), int64_t(5) << 30);
  EXPECT_EQ(t.requests_per_minute(), 120);
  EXPECT_EQ(t.requests_per_day(), 50000);
  // Another tenant without a plan has no limits.
  cloudillo::v1::Tenant other = Resolve("q2.example.com");
  EXPECT_EQ(other.plan(), "");
  EXPECT_EQ(other.storage_quota_bytes(), 0);
  EXPECT_EQ(other.requests_per_minute(), 0);
  // A change of the plan shows at once.
  ASSERT_TRUE(Upsert("pro", 1000, 7, 8, 0, &out).ok());
  EXPECT_EQ(Resolve("q1.example.com").requests_per_minute(), 7);
}

TEST_F(AdminPlansTest, UsagePerTenantFromBlobAndTheCounters) {
  cloudillo::v1::Tenant a = CreateTenant("u1.example.com");
  cloudillo::v1::Tenant b = CreateTenant("u2.example.com");
  cloudillo::v1::UsageRequest req;
  req.set_id_tag("u1.example.com");
  cloudillo::v1::TenantUsage u;
  {
    auto ctx = AdminContext();
    EXPECT_EQ(admin_stub_->GetTenantUsage(ctx.get(), req, &u).error_code(), grpc::StatusCode::UNAVAILABLE)
        << "without blob there is no storage answer";
  }
  FakeBlob blob;
  rpc::RpcServer blob_server(std::make_shared<prometheus::Registry>());
  blob_server.AddService(&blob);
  ASSERT_TRUE(blob_server.Start("", nullptr).ok());
  admin_->ConnectBlob(blob_server.InProcessChannel());

  // Counts as the gateway and the action service leave them, for both tenants. The
  // test Redis outlives this test's database, whose tenant ids start at 1 again:
  // start from whatever an earlier run left.
  auto before = [&](const cloudillo::v1::Tenant& t) {
    cloudillo::v1::UsageRequest r;
    r.set_id_tag(t.id_tag());
    r.set_days(2);
    cloudillo::v1::TenantUsage out;
    auto ctx = AdminContext();
    EXPECT_TRUE(admin_stub_->GetTenantUsage(ctx.get(), r, &out).ok());
    return out;
  };
  cloudillo::v1::TenantUsage a0 = before(a), b0 = before(b);
  ASSERT_EQ(a0.days_size(), 2);
  cache::UsageRecorder rec(redis_, clock_);
  rec.Add(a.tn_id(), cache::kUsageRequests, 5);
  rec.Add(a.tn_id(), cache::kUsageFedOut, 2);
  rec.Add(a.tn_id(), cache::kUsageFedOutBytes, 900);
  rec.Add(b.tn_id(), cache::kUsageFedIn, 1);
  rec.Flush();
  absl::SleepFor(absl::Milliseconds(200));  // the flush is asynchronous
  cloudillo::v1::TenantUsage a1 = before(a), b1 = before(b);
  EXPECT_EQ(a1.storage_bytes(), a.tn_id() * 1000);
  EXPECT_EQ(a1.files(), a.tn_id());
  EXPECT_EQ(a1.days(0).day(), cache::UsageDay(clock_.Now()));
  EXPECT_EQ(a1.days(0).requests() - a0.days(0).requests(), 5);
  EXPECT_EQ(a1.days(0).federation_out() - a0.days(0).federation_out(), 2);
  EXPECT_EQ(a1.days(0).federation_out_bytes() - a0.days(0).federation_out_bytes(), 900);
  EXPECT_EQ(a1.days(0).federation_in(), a0.days(0).federation_in()) << "b's traffic stays b's";
  EXPECT_EQ(b1.days(0).federation_in() - b0.days(0).federation_in(), 1);
  EXPECT_EQ(b1.days(0).requests(), b0.days(0).requests());

  cloudillo::v1::ListUsageRequest list;
  list.set_days(1);
  cloudillo::v1::ListUsageReply all;
  auto ctx = AdminContext();
  ASSERT_TRUE(admin_stub_->ListUsage(ctx.get(), list, &all).ok());
  ASSERT_EQ(all.usage_size(), 2);
  EXPECT_EQ(all.usage(0).id_tag(), "u1.example.com");
  EXPECT_EQ(all.usage(0).days_size(), 1);
  req.set_days(91);
  auto ctx2 = AdminContext();
  EXPECT_EQ(admin_stub_->GetTenantUsage(ctx2.get(), req, &u).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  blob_server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace cloudillo::identity
