// Provider administration over gRPC on its own listener (DESIGN "Admin"): tenants,
// signing-key and token-secret rotation, passwords, bans. Every call must carry
// `authorization: Bearer <CLOUDILLO_ADMIN_TOKEN>` (compared in constant time);
// otherwise UNAUTHENTICATED. Credential work is forwarded to access over gRPC.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cloudillo/cache/rate_limiter.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/v1/access.grpc.pb.h"
#include "cloudillo/v1/admin.grpc.pb.h"
#include "signing_keys.h"

namespace cloudillo::identity {

class AdminService final : public cloudillo::v1::Admin::Service {
 public:
  AdminService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
               const crypto::MasterKey& master, const Clock& clock, std::string admin_token);
  // Set once the access service is reachable (in-process channels exist only after start).
  void ConnectAccess(std::shared_ptr<grpc::Channel> channel);
  // Called after a change to a tenant's published profile (key rotation, status).
  void OnProfileChange(std::function<void(int64_t tn_id)> fn) { on_profile_change_ = std::move(fn); }

  grpc::Status CreateTenant(grpc::ServerContext*, const cloudillo::v1::CreateTenantRequest*,
                            cloudillo::v1::Tenant*) override;
  grpc::Status ListTenants(grpc::ServerContext*, const cloudillo::v1::ListTenantsRequest*,
                           cloudillo::v1::ListTenantsReply*) override;
  grpc::Status SetTenantStatus(grpc::ServerContext*, const cloudillo::v1::SetTenantStatusRequest*,
                               cloudillo::v1::Tenant*) override;
  grpc::Status DeleteTenant(grpc::ServerContext*, const cloudillo::v1::TenantByIdTag*,
                            cloudillo::v1::Empty*) override;
  grpc::Status RotateSigningKey(grpc::ServerContext*, const cloudillo::v1::RotateKeyRequest*,
                                cloudillo::v1::SigningKeyInfo*) override;
  grpc::Status RotateTokenSecret(grpc::ServerContext*, const cloudillo::v1::TenantByIdTag*,
                                 cloudillo::v1::Empty*) override;
  grpc::Status SetPassword(grpc::ServerContext*, const cloudillo::v1::SetPasswordAdminRequest*,
                           cloudillo::v1::Empty*) override;
  grpc::Status LiftBan(grpc::ServerContext*, const cloudillo::v1::LiftBanRequest*,
                       cloudillo::v1::Empty*) override;

 private:
  absl::Status Authorize(grpc::ServerContext* ctx) const;
  absl::StatusOr<cloudillo::v1::Tenant> FindTenant(const std::string& id_tag) const;
  void PublishTenantChange(const std::string& id_tag, int64_t tn_id) const;

  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  const Clock& clock_;
  std::string admin_token_;
  SigningKeys keys_;
  std::unique_ptr<cloudillo::v1::Access::Stub> access_;
  std::function<void(int64_t)> on_profile_change_;
};

}  // namespace cloudillo::identity
