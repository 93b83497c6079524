#include "admin_service.h"

#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::identity {

absl::Status ReservePlanSlot(db::Tx& tx, const std::string& plan);  // admin_plans.cc

namespace {

constexpr absl::Duration kRpcTimeout = absl::Seconds(10);

cloudillo::v1::Tenant TenantFromRow(const db::Row& r) {
  cloudillo::v1::Tenant t;
  t.set_tn_id(r.Int(0));
  t.set_id_tag(r.Str(1));
  t.set_type(r.Str(2));
  t.set_status(r.Str(3));
  t.set_name(r.Str(4));
  t.set_created_at(r.Str(5));
  t.set_plan(r.Str(6));
  return t;
}

constexpr char kTenantColumns[] =
    "tn_id, id_tag, type, status, name, to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(plan, '')";

}  // namespace

AdminService::AdminService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                           const crypto::MasterKey& master, const Clock& clock, std::string admin_token,
                           rpc::WorkerPool& workers)
    : pool_(std::move(pool)),
      redis_(std::move(redis)),
      clock_(clock),
      admin_token_(std::move(admin_token)),
      keys_(master),
      workers_(workers) {}

void AdminService::ConnectAccess(std::shared_ptr<grpc::Channel> channel) {
  access_ = cloudillo::v1::Access::NewStub(std::move(channel));
}

void AdminService::ConnectBlob(std::shared_ptr<grpc::Channel> channel) {
  blob_ = cloudillo::v1::BlobInternal::NewStub(std::move(channel));
}

absl::Status AdminService::Authorize(grpc::CallbackServerContext* ctx) const {
  auto it = ctx->client_metadata().find("authorization");
  std::string given =
      it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
  return AuthorizeBearer(given);
}

absl::Status AdminService::AuthorizeBearer(std::string_view authorization) const {
  // Digests of both sides, so not even the token's length shows in the timing.
  if (admin_token_.empty() ||
      !crypto::ConstantTimeEqual(crypto::Sha256(authorization), crypto::Sha256("Bearer " + admin_token_))) {
    return absl::UnauthenticatedError("admin token required");
  }
  return absl::OkStatus();
}

absl::StatusOr<cloudillo::v1::Tenant> AdminService::FindTenant(const std::string& id_tag) const {
  CL_ASSIGN_OR_RETURN(std::string canonical, CanonicalIdTag(id_tag));
  CL_ASSIGN_OR_RETURN(
      db::Result r, pool_->Query(std::string("SELECT ") + kTenantColumns + " FROM tenants WHERE id_tag = $1",
                                 {db::P(canonical)}));
  if (r.empty()) return absl::NotFoundError("no tenant " + canonical);
  return TenantFromRow(r.rows[0]);
}

void AdminService::PublishTenantChange(const std::string& id_tag, int64_t tn_id) const {
  if (on_profile_change_) on_profile_change_(tn_id);
  for (const std::string& m : {cache::TenantInvalidation(id_tag), cache::SecretsInvalidation(tn_id),
                               cache::ApiKeysInvalidation(tn_id)}) {
    absl::Status st = redis_->Publish(cache::kInvalidationChannel, m);
    if (!st.ok())
      LogWarn("invalidation_publish_failed", {{"message", m}, {"error", std::string(st.message())}});
  }
}

grpc::ServerUnaryReactor* AdminService::CreateTenant(grpc::CallbackServerContext* ctx,
                                                     const cloudillo::v1::CreateTenantRequest* req,
                                                     cloudillo::v1::Tenant* out) {
  return Handle(ctx, out, "CreateTenant", req->id_tag(), [=, this] { return DoCreateTenant(*req); });
}

absl::StatusOr<cloudillo::v1::Tenant> AdminService::DoCreateTenant(
    const cloudillo::v1::CreateTenantRequest& req) {
  auto id_tag = CanonicalIdTag(req.id_tag());
  if (!id_tag.ok())
    return absl::InvalidArgumentError("'" + req.id_tag() + "' is not a valid id_tag (DNS name)");
  std::string type = req.type().empty() ? "person" : req.type();
  if (type != "person" && type != "community")
    return absl::InvalidArgumentError("type must be person or community");
  if (!req.password().empty() && req.password().size() < 8) {
    return absl::InvalidArgumentError("password must be at least 8 characters");
  }
  if (!access_) return absl::UnavailableError("access service not connected");
  std::string name = req.name().empty() ? *id_tag : req.name();
  cloudillo::v1::Tenant tenant;
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    if (!req.plan().empty()) CL_RETURN_IF_ERROR(ReservePlanSlot(tx, req.plan()));
    auto r = tx.Query(
        std::string(
            "INSERT INTO tenants (id_tag, type, name, email, plan) VALUES ($1, $2, $3, $4, $5) RETURNING ") +
            kTenantColumns,
        {db::P(*id_tag), db::P(type), db::P(name), req.email().empty() ? db::Null() : db::P(req.email()),
         req.plan().empty() ? db::Null() : db::P(req.plan())});
    if (r.status().code() == absl::StatusCode::kAlreadyExists)
      return absl::AlreadyExistsError("tenant " + *id_tag + " exists");
    CL_RETURN_IF_ERROR(r.status());
    tenant = TenantFromRow(r->rows[0]);
    return keys_.Create(tx, tenant.tn_id(), clock_.Now()).status();
  }));
  cloudillo::v1::SetupTenantRequest setup;
  setup.set_tn_id(tenant.tn_id());
  setup.set_id_tag(tenant.id_tag());
  setup.set_password(req.password());
  cloudillo::v1::Empty empty;
  auto call = rpc::ContextWithDeadline(kRpcTimeout);
  absl::Status st = rpc::FromGrpcStatus(access_->SetupTenant(call.get(), setup, &empty));
  if (!st.ok()) {
    // Undo, so a retry of the same command can succeed.
    (void)pool_->Query("DELETE FROM tenants WHERE tn_id = $1", {db::P(tenant.tn_id())});
    return st;
  }
  PublishTenantChange(tenant.id_tag(), tenant.tn_id());  // drops a cached "unknown host"
  LogInfo("tenant_created", {{"id_tag", tenant.id_tag()}, {"tn_id", tenant.tn_id()}});
  return tenant;
}

grpc::ServerUnaryReactor* AdminService::ListTenants(grpc::CallbackServerContext* ctx,
                                                    const cloudillo::v1::ListTenantsRequest* req,
                                                    cloudillo::v1::ListTenantsReply* out) {
  return Handle(ctx, out, "ListTenants", req->after_id_tag(), [=, this] { return DoListTenants(*req); });
}

absl::StatusOr<cloudillo::v1::ListTenantsReply> AdminService::DoListTenants(
    const cloudillo::v1::ListTenantsRequest& req) {
  int limit = req.limit() <= 0 || req.limit() > 10000 ? 1000 : req.limit();
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query(std::string("SELECT ") + kTenantColumns +
                                       " FROM tenants WHERE id_tag > $1 ORDER BY id_tag LIMIT $2",
                                   {db::P(req.after_id_tag()), db::P(limit)}));
  cloudillo::v1::ListTenantsReply reply;
  for (const auto& row : r.rows) *reply.add_tenants() = TenantFromRow(row);
  return reply;
}

grpc::ServerUnaryReactor* AdminService::SetTenantStatus(grpc::CallbackServerContext* ctx,
                                                        const cloudillo::v1::SetTenantStatusRequest* req,
                                                        cloudillo::v1::Tenant* out) {
  return Handle(ctx, out, "SetTenantStatus", req->id_tag() + " " + req->status(),
                [=, this] { return DoSetTenantStatus(*req); });
}

absl::StatusOr<cloudillo::v1::Tenant> AdminService::DoSetTenantStatus(
    const cloudillo::v1::SetTenantStatusRequest& req) {
  if (req.status() != "active" && req.status() != "suspended") {
    return absl::InvalidArgumentError("status must be active or suspended");
  }
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  CL_RETURN_IF_ERROR(pool_
                         ->Query("UPDATE tenants SET status = $2, delete_after = NULL WHERE tn_id = $1",
                                 {db::P(t.tn_id()), db::P(req.status())})
                         .status());
  t.set_status(req.status());
  PublishTenantChange(t.id_tag(), t.tn_id());
  LogInfo("tenant_status_changed", {{"id_tag", t.id_tag()}, {"status", t.status()}});
  return t;
}

grpc::ServerUnaryReactor* AdminService::DeleteTenant(grpc::CallbackServerContext* ctx,
                                                     const cloudillo::v1::TenantByIdTag* req,
                                                     cloudillo::v1::Empty* out) {
  return Handle(ctx, out, "DeleteTenant", req->id_tag(), [=, this] { return DoDeleteTenant(*req); });
}

absl::StatusOr<cloudillo::v1::Empty> AdminService::DoDeleteTenant(const cloudillo::v1::TenantByIdTag& req) {
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  CL_RETURN_IF_ERROR(DeleteNow(t));
  return cloudillo::v1::Empty();
}

absl::Status AdminService::DeleteNow(const cloudillo::v1::Tenant& t) const {
  if (!access_) return absl::UnavailableError("access service not connected");
  cloudillo::v1::TenantRef ref;
  ref.set_tn_id(t.tn_id());
  ref.set_id_tag(t.id_tag());
  cloudillo::v1::Empty empty;
  auto call = rpc::ContextWithDeadline(kRpcTimeout);
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(access_->DeleteTenantCredentials(call.get(), ref, &empty)));
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(tx.Query("DELETE FROM settings WHERE tn_id = $1", {db::P(t.tn_id())}).status());
    return tx.Query("DELETE FROM tenants WHERE tn_id = $1", {db::P(t.tn_id())}).status();
  }));
  PublishTenantChange(t.id_tag(), t.tn_id());
  LogInfo("tenant_deleted", {{"id_tag", t.id_tag()}, {"tn_id", t.tn_id()}});
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AdminService::ScheduleTenantDeletion(
    grpc::CallbackServerContext* ctx, const cloudillo::v1::ScheduleDeletionRequest* req,
    cloudillo::v1::ScheduleDeletionReply* out) {
  return Handle(ctx, out, "ScheduleTenantDeletion",
                req->id_tag() + " " + std::to_string(req->grace_days()) + "d",
                [=, this] { return DoScheduleTenantDeletion(*req); });
}

absl::StatusOr<cloudillo::v1::ScheduleDeletionReply> AdminService::DoScheduleTenantDeletion(
    const cloudillo::v1::ScheduleDeletionRequest& req) {
  if (req.grace_days() < 0 || req.grace_days() > 3650) {
    return absl::InvalidArgumentError("grace_days must be between 0 and 3650");
  }
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  // On the database's clock, like the purge that compares with it.
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query("UPDATE tenants SET status = 'deleting', delete_after = now() + make_interval("
                   "days => $2::int) WHERE tn_id = $1 RETURNING to_char(delete_after AT TIME ZONE "
                   "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                   {db::P(t.tn_id()), db::P(req.grace_days())}));
  if (r.empty()) return absl::NotFoundError("no tenant " + t.id_tag());
  t.set_status("deleting");
  PublishTenantChange(t.id_tag(), t.tn_id());
  cloudillo::v1::ScheduleDeletionReply reply;
  *reply.mutable_tenant() = t;
  reply.set_delete_after(r.rows[0].Str(0));
  LogInfo("tenant_deletion_scheduled", {{"id_tag", t.id_tag()}, {"delete_after", reply.delete_after()}});
  return reply;
}

grpc::ServerUnaryReactor* AdminService::PurgeTenants(grpc::CallbackServerContext* ctx,
                                                     const cloudillo::v1::Empty* req,
                                                     cloudillo::v1::PurgeTenantsReply* out) {
  return Handle(ctx, out, "PurgeTenants", std::string(), [=, this] { return DoPurgeTenants(*req); });
}

absl::StatusOr<cloudillo::v1::PurgeTenantsReply> AdminService::DoPurgeTenants(const cloudillo::v1::Empty&) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query(std::string("SELECT ") + kTenantColumns +
                                   " FROM tenants WHERE status = 'deleting' AND delete_after <= "
                                   "now() ORDER BY delete_after LIMIT 1000"));
  cloudillo::v1::PurgeTenantsReply reply;
  for (const auto& row : r.rows) {
    cloudillo::v1::Tenant t = TenantFromRow(row);
    CL_RETURN_IF_ERROR(DeleteNow(t));
    reply.add_deleted(t.id_tag());
  }
  return reply;
}

grpc::ServerUnaryReactor* AdminService::RotateSigningKey(grpc::CallbackServerContext* ctx,
                                                         const cloudillo::v1::RotateKeyRequest* req,
                                                         cloudillo::v1::SigningKeyInfo* out) {
  return Handle(ctx, out, "RotateSigningKey", req->id_tag(), [=, this] { return DoRotateSigningKey(*req); });
}

absl::StatusOr<cloudillo::v1::SigningKeyInfo> AdminService::DoRotateSigningKey(
    const cloudillo::v1::RotateKeyRequest& req) {
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  int days = req.retire_old_after_days() > 0 ? req.retire_old_after_days() : 30;
  CL_ASSIGN_OR_RETURN(PublicKeyInfo k, keys_.Rotate(*pool_, t.tn_id(), clock_.Now(), absl::Hours(24 * days)));
  if (on_profile_change_) on_profile_change_(t.tn_id());
  cloudillo::v1::SigningKeyInfo info;
  info.set_key_id(k.key_id);
  info.set_public_key(k.public_key);
  LogInfo("signing_key_rotated", {{"id_tag", t.id_tag()}, {"key_id", k.key_id}});
  return info;
}

grpc::ServerUnaryReactor* AdminService::RotateTokenSecret(grpc::CallbackServerContext* ctx,
                                                          const cloudillo::v1::TenantByIdTag* req,
                                                          cloudillo::v1::Empty* out) {
  return Handle(ctx, out, "RotateTokenSecret", req->id_tag(),
                [=, this] { return DoRotateTokenSecret(*req); });
}

absl::StatusOr<cloudillo::v1::Empty> AdminService::DoRotateTokenSecret(
    const cloudillo::v1::TenantByIdTag& req) {
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  if (!access_) return absl::UnavailableError("access service not connected");
  cloudillo::v1::TenantRef ref;
  ref.set_tn_id(t.tn_id());
  ref.set_id_tag(t.id_tag());
  cloudillo::v1::Empty empty;
  auto call = rpc::ContextWithDeadline(kRpcTimeout);
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(access_->RotateTokenSecret(call.get(), ref, &empty)));
  return empty;
}

grpc::ServerUnaryReactor* AdminService::SetPassword(grpc::CallbackServerContext* ctx,
                                                    const cloudillo::v1::SetPasswordAdminRequest* req,
                                                    cloudillo::v1::Empty* out) {
  return Handle(ctx, out, "SetPassword", req->id_tag(), [=, this] { return DoSetPassword(*req); });
}

absl::StatusOr<cloudillo::v1::Empty> AdminService::DoSetPassword(
    const cloudillo::v1::SetPasswordAdminRequest& req) {
  CL_ASSIGN_OR_RETURN(cloudillo::v1::Tenant t, FindTenant(req.id_tag()));
  if (!access_) return absl::UnavailableError("access service not connected");
  cloudillo::v1::SetPasswordRequest sp;
  sp.set_tn_id(t.tn_id());
  sp.set_password(req.password());
  cloudillo::v1::Empty empty;
  auto call = rpc::ContextWithDeadline(kRpcTimeout);
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(access_->SetPassword(call.get(), sp, &empty)));
  return empty;
}

grpc::ServerUnaryReactor* AdminService::LiftBan(grpc::CallbackServerContext* ctx,
                                                const cloudillo::v1::LiftBanRequest* req,
                                                cloudillo::v1::Empty* out) {
  return Handle(ctx, out, "LiftBan", req->address(), [=, this] { return DoLiftBan(*req); });
}

absl::StatusOr<cloudillo::v1::Empty> AdminService::DoLiftBan(const cloudillo::v1::LiftBanRequest& req) {
  CL_ASSIGN_OR_RETURN(cache::ClientAddress addr, cache::ClientAddress::Parse(req.address()));
  CL_RETURN_IF_ERROR(cache::LiftBan(*redis_, addr));
  LogInfo("ban_lifted", {{"address", req.address()}});
  return cloudillo::v1::Empty();
}

grpc::ServerUnaryReactor* AdminService::RotateMasterKey(grpc::CallbackServerContext* ctx,
                                                        const cloudillo::v1::Empty* req,
                                                        cloudillo::v1::ResealReply* out) {
  return Handle(ctx, out, "RotateMasterKey", std::string(), [=, this] { return DoRotateMasterKey(*req); });
}

absl::StatusOr<cloudillo::v1::ResealReply> AdminService::DoRotateMasterKey(const cloudillo::v1::Empty&) {
  if (!access_) return absl::UnavailableError("access service not connected");
  CL_ASSIGN_OR_RETURN(cloudillo::v1::ResealReply reply, keys_.Reseal(*pool_));
  cloudillo::v1::ResealReply access;
  auto call = rpc::ContextWithDeadline(absl::Minutes(5));
  CL_RETURN_IF_ERROR(
      rpc::FromGrpcStatus(access_->ResealSecrets(call.get(), cloudillo::v1::Empty(), &access)));
  reply.set_resealed(reply.resealed() + access.resealed());
  reply.set_remaining(reply.remaining() + access.remaining());
  LogInfo("master_key_rotated", {{"resealed", reply.resealed()}, {"remaining", reply.remaining()}});
  return reply;
}

}  // namespace cloudillo::identity
