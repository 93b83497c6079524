// Provider administration over gRPC on its own listener (DESIGN "Admin"): tenants,
// plans and their quotas, usage per tenant, signing-key and token-secret rotation,
// master-key resealing, passwords, bans. The
// listener admits only the `admin` identity (mutual TLS, access_policy.cc), and every
// call must also carry `authorization: Bearer <CLOUDILLO_ADMIN_TOKEN>` (compared in
// constant time); otherwise UNAUTHENTICATED. Credential work is forwarded to access.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "admin_audit.h"
#include "cloudillo/cache/ban_list.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/v1/access.grpc.pb.h"
#include "cloudillo/v1/admin.grpc.pb.h"
#include "cloudillo/v1/blob.grpc.pb.h"
#include "signing_keys.h"

namespace cloudillo::identity {

class AdminService final : public cloudillo::v1::Admin::CallbackService {
 public:
  AdminService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
               const crypto::MasterKey& master, const Clock& clock, std::string admin_token,
               rpc::WorkerPool& workers);
  // Set once the access service is reachable (in-process channels exist only after start).
  void ConnectAccess(std::shared_ptr<grpc::Channel> channel);
  // blob answers the storage part of the usage calls.
  void ConnectBlob(std::shared_ptr<grpc::Channel> channel);
  // Called after a change to a tenant's published profile (key rotation, status).
  void OnProfileChange(std::function<void(int64_t tn_id)> fn) { on_profile_change_ = std::move(fn); }

  grpc::ServerUnaryReactor* CreateTenant(grpc::CallbackServerContext*,
                                         const cloudillo::v1::CreateTenantRequest*,
                                         cloudillo::v1::Tenant*) override;
  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext*,
                                        const cloudillo::v1::ListTenantsRequest*,
                                        cloudillo::v1::ListTenantsReply*) override;
  grpc::ServerUnaryReactor* SetTenantStatus(grpc::CallbackServerContext*,
                                            const cloudillo::v1::SetTenantStatusRequest*,
                                            cloudillo::v1::Tenant*) override;
  grpc::ServerUnaryReactor* DeleteTenant(grpc::CallbackServerContext*, const cloudillo::v1::TenantByIdTag*,
                                         cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* ScheduleTenantDeletion(grpc::CallbackServerContext*,
                                                   const cloudillo::v1::ScheduleDeletionRequest*,
                                                   cloudillo::v1::ScheduleDeletionReply*) override;
  grpc::ServerUnaryReactor* PurgeTenants(grpc::CallbackServerContext*, const cloudillo::v1::Empty*,
                                         cloudillo::v1::PurgeTenantsReply*) override;
  grpc::ServerUnaryReactor* RotateSigningKey(grpc::CallbackServerContext*,
                                             const cloudillo::v1::RotateKeyRequest*,
                                             cloudillo::v1::SigningKeyInfo*) override;
  grpc::ServerUnaryReactor* RotateTokenSecret(grpc::CallbackServerContext*,
                                              const cloudillo::v1::TenantByIdTag*,
                                              cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* SetPassword(grpc::CallbackServerContext*,
                                        const cloudillo::v1::SetPasswordAdminRequest*,
                                        cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* LiftBan(grpc::CallbackServerContext*, const cloudillo::v1::LiftBanRequest*,
                                    cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* RotateMasterKey(grpc::CallbackServerContext*, const cloudillo::v1::Empty*,
                                            cloudillo::v1::ResealReply*) override;
  grpc::ServerUnaryReactor* UpsertPlan(grpc::CallbackServerContext*, const cloudillo::v1::Plan*,
                                       cloudillo::v1::Plan*) override;
  grpc::ServerUnaryReactor* ListPlans(grpc::CallbackServerContext*, const cloudillo::v1::Empty*,
                                      cloudillo::v1::ListPlansReply*) override;
  grpc::ServerUnaryReactor* DeletePlan(grpc::CallbackServerContext*, const cloudillo::v1::PlanByName*,
                                       cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* AssignPlan(grpc::CallbackServerContext*, const cloudillo::v1::AssignPlanRequest*,
                                       cloudillo::v1::Tenant*) override;
  grpc::ServerUnaryReactor* GetTenantUsage(grpc::CallbackServerContext*, const cloudillo::v1::UsageRequest*,
                                           cloudillo::v1::TenantUsage*) override;
  grpc::ServerUnaryReactor* ListUsage(grpc::CallbackServerContext*, const cloudillo::v1::ListUsageRequest*,
                                      cloudillo::v1::ListUsageReply*) override;

  // The calls themselves, for both listeners: the caller is authorized and audited
  // by then (Handle() for gRPC, admin_http.cc for HTTP).
  absl::StatusOr<cloudillo::v1::Tenant> DoCreateTenant(const cloudillo::v1::CreateTenantRequest& req);
  absl::StatusOr<cloudillo::v1::ListTenantsReply> DoListTenants(const cloudillo::v1::ListTenantsRequest& req);
  absl::StatusOr<cloudillo::v1::Tenant> DoSetTenantStatus(const cloudillo::v1::SetTenantStatusRequest& req);
  absl::StatusOr<cloudillo::v1::Empty> DoDeleteTenant(const cloudillo::v1::TenantByIdTag& req);
  absl::StatusOr<cloudillo::v1::ScheduleDeletionReply> DoScheduleTenantDeletion(
      const cloudillo::v1::ScheduleDeletionRequest& req);
  absl::StatusOr<cloudillo::v1::PurgeTenantsReply> DoPurgeTenants(const cloudillo::v1::Empty& req);
  absl::StatusOr<cloudillo::v1::SigningKeyInfo> DoRotateSigningKey(
      const cloudillo::v1::RotateKeyRequest& req);
  absl::StatusOr<cloudillo::v1::Empty> DoRotateTokenSecret(const cloudillo::v1::TenantByIdTag& req);
  absl::StatusOr<cloudillo::v1::Empty> DoSetPassword(const cloudillo::v1::SetPasswordAdminRequest& req);
  absl::StatusOr<cloudillo::v1::Empty> DoLiftBan(const cloudillo::v1::LiftBanRequest& req);
  absl::StatusOr<cloudillo::v1::ResealReply> DoRotateMasterKey(const cloudillo::v1::Empty& req);
  absl::StatusOr<cloudillo::v1::Plan> DoUpsertPlan(const cloudillo::v1::Plan& req);
  absl::StatusOr<cloudillo::v1::ListPlansReply> DoListPlans(const cloudillo::v1::Empty& req);
  absl::StatusOr<cloudillo::v1::Empty> DoDeletePlan(const cloudillo::v1::PlanByName& req);
  absl::StatusOr<cloudillo::v1::Tenant> DoAssignPlan(const cloudillo::v1::AssignPlanRequest& req);
  absl::StatusOr<cloudillo::v1::TenantUsage> DoGetTenantUsage(const cloudillo::v1::UsageRequest& req);
  absl::StatusOr<cloudillo::v1::ListUsageReply> DoListUsage(const cloudillo::v1::ListUsageRequest& req);

  // `authorization` is the whole header value ("Bearer <token>"); constant time.
  absl::Status AuthorizeBearer(std::string_view authorization) const;

 private:
  absl::Status Authorize(grpc::CallbackServerContext* ctx) const;
  // Authorizes, runs `fn` on the worker pool and audits the outcome.
  template <typename Reply, typename F>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx, Reply* out, const char* method,
                                   std::string target, F fn) {
    AdminAudit audit{method, ctx->auth_context() ? rpc::CallerIdentity(*ctx->auth_context()) : "",
                     ctx->peer(), std::move(target)};
    return rpc::Serve(ctx, out, workers_, [=, this]() mutable -> absl::StatusOr<Reply> {
      absl::Time start = absl::Now();
      absl::Status auth = Authorize(ctx);
      absl::StatusOr<Reply> r = auth.ok() ? fn() : absl::StatusOr<Reply>(auth);
      audit.Log(r.status(), absl::Now() - start);
      return r;
    });
  }
  absl::StatusOr<cloudillo::v1::TenantUsage> UsageOf(const cloudillo::v1::Tenant& t, int days);
  absl::StatusOr<cloudillo::v1::Tenant> FindTenant(const std::string& id_tag) const;
  // Removes a tenant now: its credentials in access, then its rows here.
  absl::Status DeleteNow(const cloudillo::v1::Tenant& t) const;
  void PublishTenantChange(const std::string& id_tag, int64_t tn_id) const;

  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  const Clock& clock_;
  std::string admin_token_;
  SigningKeys keys_;
  std::unique_ptr<cloudillo::v1::Access::Stub> access_;
  std::unique_ptr<cloudillo::v1::BlobInternal::Stub> blob_;
  std::function<void(int64_t)> on_profile_change_;
  rpc::WorkerPool& workers_;
};

}  // namespace cloudillo::identity
