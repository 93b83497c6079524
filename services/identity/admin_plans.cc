// Plans, their assignment to tenants, and usage per tenant (admin.proto).
#include <regex>

#include "admin_service.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/cache/usage.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::identity {
namespace {

using cloudillo::v1::Plan;

constexpr char kPlanColumns[] =
    "p.name, p.storage_bytes, p.requests_per_minute, p.requests_per_day, p.max_tenants, "
    "(SELECT count(*) FROM tenants t WHERE t.plan = p.name)";

Plan PlanFromRow(const db::Row& r) {
  Plan p;
  p.set_name(r.Str(0));
  p.set_storage_bytes(r.Int(1));
  p.set_requests_per_minute(int32_t(r.Int(2)));
  p.set_requests_per_day(int32_t(r.Int(3)));
  p.set_max_tenants(int32_t(r.Int(4)));
  p.set_tenants(int32_t(r.Int(5)));
  return p;
}

absl::Status CheckPlanName(const std::string& name) {
  static const std::regex kName("[a-z0-9][a-z0-9_-]{0,62}");
  if (!std::regex_match(name, kName))
    return absl::InvalidArgumentError("plan name must match [a-z0-9][a-z0-9_-]{0,62}");
  return absl::OkStatus();
}

}  // namespace

// Takes a place on `plan` inside the caller's transaction: the plan row stays locked
// until it commits, so two concurrent assignments cannot both take the last place.
absl::Status ReservePlanSlot(db::Tx& tx, const std::string& plan) {
  CL_RETURN_IF_ERROR(CheckPlanName(plan));
  CL_ASSIGN_OR_RETURN(db::Result p,
                      tx.Query("SELECT max_tenants FROM plans WHERE name = $1 FOR UPDATE", {db::P(plan)}));
  if (p.empty()) return absl::NotFoundError("no plan " + plan);
  int64_t max = p.rows[0].Int(0);
  if (max == 0) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(db::Result n, tx.Query("SELECT count(*) FROM tenants WHERE plan = $1", {db::P(plan)}));
  if (n.rows[0].Int(0) >= max) {
    return absl::FailedPreconditionError("plan " + plan + " is full (" + std::to_string(max) + " tenants)");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AdminService::UpsertPlan(grpc::CallbackServerContext* ctx, const Plan* req,
                                                   Plan* out) {
  return Handle(ctx, out, "UpsertPlan", req->name(), [=, this] { return DoUpsertPlan(*req); });
}

absl::StatusOr<Plan> AdminService::DoUpsertPlan(const Plan& req) {
  CL_RETURN_IF_ERROR(CheckPlanName(req.name()));
  if (req.storage_bytes() < 0 || req.requests_per_minute() < 0 || req.requests_per_day() < 0 ||
      req.max_tenants() < 0) {
    return absl::InvalidArgumentError("plan limits must not be negative (0: unlimited)");
  }
  CL_RETURN_IF_ERROR(
      pool_
          ->Query("INSERT INTO plans (name, storage_bytes, requests_per_minute, requests_per_day, "
                  "max_tenants) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET "
                  "storage_bytes = $2, requests_per_minute = $3, requests_per_day = $4, "
                  "max_tenants = $5, updated_at = now()",
                  {db::P(req.name()), db::P(req.storage_bytes()), db::P(req.requests_per_minute()),
                   db::P(req.requests_per_day()), db::P(req.max_tenants())})
          .status());
  // The gateway and blob hold each tenant's limits in their tenant caches.
  CL_ASSIGN_OR_RETURN(db::Result tenants,
                      pool_->Query("SELECT id_tag FROM tenants WHERE plan = $1", {db::P(req.name())}));
  for (const auto& row : tenants.rows) {
    absl::Status st = redis_->Publish(cache::kInvalidationChannel, cache::TenantInvalidation(row.Str(0)));
    if (!st.ok())
      LogWarn("invalidation_publish_failed", {{"id_tag", row.Str(0)}, {"error", std::string(st.message())}});
  }
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query(std::string("SELECT ") + kPlanColumns + " FROM plans p WHERE name = $1",
                                   {db::P(req.name())}));
  if (r.empty()) return absl::NotFoundError("no plan " + req.name());  // deleted meanwhile
  LogInfo("plan_saved", {{"plan", req.name()}});
  return PlanFromRow(r.rows[0]);
}

grpc::ServerUnaryReactor* AdminService::ListPlans(grpc::CallbackServerContext* ctx,
                                                  const cloudillo::v1::Empty* req,
                                                  cloudillo::v1::ListPlansReply* out) {
  return Handle(ctx, out, "ListPlans", std::string(), [=, this] { return DoListPlans(*req); });
}

absl::StatusOr<cloudillo::v1::ListPlansReply> AdminService::DoListPlans(const cloudillo::v1::Empty&) {
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(std::string("SELECT ") + kPlanColumns +
                                                 " FROM plans p ORDER BY name LIMIT 10000"));
  cloudillo::v1::ListPlansReply reply;
  for (const auto& row : r.rows) *reply.add_plans() = PlanFromRow(row);
  return reply;
}

grpc::ServerUnaryReactor* AdminService::DeletePlan(grpc::CallbackServerContext* ctx,
                                                   const cloudillo::v1::PlanByName* req,
                                                   cloudillo::v1::Empty* out) {
  return Handle(ctx, out, "DeletePlan", req->name(), [=, this] { return DoDeletePlan(*req); });
}

absl::StatusOr<cloudillo::v1::Empty> AdminService::DoDeletePlan(const cloudillo::v1::PlanByName& req) {
  CL_RETURN_IF_ERROR(CheckPlanName(req.name()));
  auto r = pool_->Query("DELETE FROM plans WHERE name = $1", {db::P(req.name())});
  // The foreign key keeps a plan that tenants are on.
  if (r.status().code() == absl::StatusCode::kFailedPrecondition)
    return absl::FailedPreconditionError("plan " + req.name() + " still has tenants");
  CL_RETURN_IF_ERROR(r.status());
  if (r->affected == 0) return absl::NotFoundError("no plan " + req.name());
  LogInfo("plan_deleted", {{"plan", req.name()}});
  return cloudillo::v1::Empty();
}

grpc::ServerUnaryReactor* AdminService::AssignPlan(grpc::CallbackServerContext* ctx,
                                                   const cloudillo::v1::AssignPlanRequest* req,
                                                   cloudillo::v1::Tenant* out) {
  return Handle(ctx, out, "AssignPlan", req->id_tag() + " " + req->plan(),
                [=, this] { return DoAssignPlan(*req); });
}

absl::StatusOr<cloudillo::v1::Tenant> AdminService::DoAssignPlan(
    const cloudillo::v1::AssignPlanRequest& req) {
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  if (t.plan() == req.plan()) return t;
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    if (!req.plan().empty()) CL_RETURN_IF_ERROR(ReservePlanSlot(tx, req.plan()));
    return tx
        .Query("UPDATE tenants SET plan = $2 WHERE tn_id = $1",
               {db::P(t.tn_id()), req.plan().empty() ? db::Null() : db::P(req.plan())})
        .status();
  }));
  t.set_plan(req.plan());
  PublishTenantChange(t.id_tag(), t.tn_id());
  LogInfo("tenant_plan_assigned", {{"id_tag", t.id_tag()}, {"plan", req.plan()}});
  return t;
}

absl::StatusOr<cloudillo::v1::TenantUsage> AdminService::UsageOf(const cloudillo::v1::Tenant& t, int days) {
  cloudillo::v1::TenantUsage u;
  u.set_id_tag(t.id_tag());
  u.set_plan(t.plan());
  if (!t.plan().empty()) {
    CL_ASSIGN_OR_RETURN(db::Result p,
                        pool_->Query("SELECT storage_bytes FROM plans WHERE name = $1", {db::P(t.plan())}));
    if (!p.empty()) u.set_storage_quota_bytes(p.rows[0].Int(0));
  }
  if (!blob_) return absl::UnavailableError("blob service not connected");
  cloudillo::v1::TenantRef ref;
  ref.set_tn_id(t.tn_id());
  ref.set_id_tag(t.id_tag());
  cloudillo::v1::StorageUsage storage;
  auto call = rpc::ContextWithDeadline(absl::Seconds(10));
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(blob_->GetStorageUsage(call.get(), ref, &storage)));
  u.set_storage_bytes(storage.stored_bytes());
  u.set_files(storage.files());
  CL_ASSIGN_OR_RETURN(std::vector<cache::UsageCounts> counts,
                      cache::ReadUsage(*redis_, t.tn_id(), clock_.Now(), days));
  for (const auto& c : counts) {
    cloudillo::v1::UsageDay* d = u.add_days();
    d->set_day(c.day);
    d->set_requests(c.requests);
    d->set_federation_out(c.fed_out);
    d->set_federation_out_bytes(c.fed_out_bytes);
    d->set_federation_in(c.fed_in);
    d->set_federation_in_bytes(c.fed_in_bytes);
  }
  return u;
}

namespace {
absl::StatusOr<int> UsageDays(int32_t days) {
  if (days == 0) return 7;
  if (days < 1 || days > cache::kUsageKeepDays)
    return absl::InvalidArgumentError("days must be between 1 and 90");
  return int(days);
}
}  // namespace

grpc::ServerUnaryReactor* AdminService::GetTenantUsage(grpc::CallbackServerContext* ctx,
                                                       const cloudillo::v1::UsageRequest* req,
                                                       cloudillo::v1::TenantUsage* out) {
  return Handle(ctx, out, "GetTenantUsage", req->id_tag(), [=, this] { return DoGetTenantUsage(*req); });
}

absl::StatusOr<cloudillo::v1::TenantUsage> AdminService::DoGetTenantUsage(
    const cloudillo::v1::UsageRequest& req) {
  CL_ASSIGN_OR_RETURN(int days, UsageDays(req.days()));
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  return UsageOf(t, days);
}

grpc::ServerUnaryReactor* AdminService::ListUsage(grpc::CallbackServerContext* ctx,
                                                  const cloudillo::v1::ListUsageRequest* req,
                                                  cloudillo::v1::ListUsageReply* out) {
  return Handle(ctx, out, "ListUsage", req->after_id_tag(), [=, this] { return DoListUsage(*req); });
}

absl::StatusOr<cloudillo::v1::ListUsageReply> AdminService::DoListUsage(
    const cloudillo::v1::ListUsageRequest& req) {
  CL_ASSIGN_OR_RETURN(int days, UsageDays(req.days()));
  // Each tenant costs a blob call and a Redis read per day: pages stay small.
  int limit = req.limit() <= 0 ? 100 : std::min(req.limit(), 500);
  cloudillo::v1::ListTenantsRequest list;
  list.set_limit(limit);
  list.set_after_id_tag(req.after_id_tag());
  CL_ASSIGN_OR_RETURN(cloudillo::v1::ListTenantsReply tenants, DoListTenants(list));
  cloudillo::v1::ListUsageReply reply;
  for (const auto& t : tenants.tenants()) {
    CL_ASSIGN_OR_RETURN(cloudillo::v1::TenantUsage u, UsageOf(t, days));
    *reply.add_usage() = std::move(u);
  }
  return reply;
}

}  // namespace cloudillo::identity
