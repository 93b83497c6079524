// Provider administration over gRPC on its own listener (DESIGN "Admin"): tenants,
// signing-key and token-secret rotation, master-key resealing, passwords, bans. The
// listener admits only the `admin` identity (mutual TLS, access_policy.cc), and every
// call must also carry `authorization: Bearer <CLOUDILLO_ADMIN_TOKEN>` (compared in
// constant time); otherwise UNAUTHENTICATED. Credential work is forwarded to access.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cloudillo/cache/ban_list.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/v1/access.grpc.pb.h"
#include "cloudillo/v1/admin.grpc.pb.h"
#include "signing_keys.h"

namespace cloudillo::identity {

class AdminService final : public cloudillo::v1::Admin::CallbackService {
 public:
  AdminService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
               const crypto::MasterKey& master, const Clock& clock, std::string admin_token,
               rpc::WorkerPool& workers);
  // Set once the access service is reachable (in-process channels exist only after start).
  void ConnectAccess(std::shared_ptr<grpc::Channel> channel);
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

 private:
  absl::Status Authorize(grpc::CallbackServerContext* ctx) const;
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
  std::function<void(int64_t)> on_profile_change_;
  rpc::WorkerPool& workers_;
};

}  // namespace cloudillo::identity
