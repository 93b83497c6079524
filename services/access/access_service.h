// access: passwords, sessions, access tokens, API keys and token secrets (DESIGN
// "Shape"). A login is one call here and touches only access's tables; the name and
// picture shown in the login answer come from identity over gRPC.
//
// Token shape (PROTOCOL §3.1, §13.2, §13.12): HS256 with the tenant's current secret
// named by `kid`; claims iss (tenant), sub, scope?, r, exp = now + 3600.
#pragma once

#include <memory>

#include "cloudillo/cache/rate_limiter.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/crypto/access_token.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/v1/access.grpc.pb.h"
#include "cloudillo/v1/identity.grpc.pb.h"

namespace cloudillo::access {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

struct AccessOptions {
  absl::Duration login_failure_delay = absl::Seconds(1);
};

class AccessService final : public cloudillo::v1::Access::Service {
 public:
  AccessService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                const crypto::MasterKey& master, const Clock& clock, AccessOptions options);
  void ConnectIdentity(std::shared_ptr<grpc::Channel> channel);

  grpc::Status GetTokenSecrets(grpc::ServerContext*, const cloudillo::v1::TenantRef*,
                               cloudillo::v1::TokenSecrets*) override;
  grpc::Status ResolveApiKey(grpc::ServerContext*, const cloudillo::v1::ResolveApiKeyRequest*,
                             cloudillo::v1::ApiKeyIdentity*) override;
  grpc::Status SetupTenant(grpc::ServerContext*, const cloudillo::v1::SetupTenantRequest*,
                           cloudillo::v1::Empty*) override;
  grpc::Status SetPassword(grpc::ServerContext*, const cloudillo::v1::SetPasswordRequest*,
                           cloudillo::v1::Empty*) override;
  grpc::Status RotateTokenSecret(grpc::ServerContext*, const cloudillo::v1::TenantRef*,
                                 cloudillo::v1::Empty*) override;
  grpc::Status DeleteTenantCredentials(grpc::ServerContext*, const cloudillo::v1::TenantRef*,
                                       cloudillo::v1::Empty*) override;

  grpc::Status LoginInit(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status Login(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status LoginToken(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status Logout(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status ChangePassword(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status AccessToken(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status ListApiKeys(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status CreateApiKey(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status GetApiKey(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status PatchApiKey(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status DeleteApiKey(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;

  // The roles a tenant's owner holds (PROTOCOL §3.1).
  static const char* OwnerRoles();

 private:
  struct Secret {
    std::string kid, secret;
  };
  absl::StatusOr<Secret> CurrentSecret(int64_t tn_id);
  absl::StatusOr<std::string> OpenSecret(int64_t tn_id, const std::string& kid,
                                         const std::string& sealed_b64) const;
  absl::StatusOr<std::string> MintToken(int64_t tn_id, crypto::AccessClaims claims);
  absl::StatusOr<std::string> LoginJson(const cloudillo::v1::RequestContext& ctx);
  absl::Status InsertSecret(db::Tx& tx, int64_t tn_id, std::optional<absl::Time> expire_others_at);
  absl::Status FailLogin(const cloudillo::v1::RequestContext& ctx);
  std::string ApiKeyHash(std::string_view key) const;
  void Publish(const std::string& message);

  absl::StatusOr<ApiReply> DoLoginInit(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoLogin(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoLoginToken(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoLogout(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoChangePassword(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoAccessToken(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoListApiKeys(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoCreateApiKey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGetApiKey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPatchApiKey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDeleteApiKey(const ApiRequest& req);

  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  const crypto::MasterKey& master_;
  const Clock& clock_;
  AccessOptions options_;
  std::string api_key_hash_key_;
  cache::RateLimiter limiter_;
  std::unique_ptr<cloudillo::v1::Identity::Stub> identity_;
};

}  // namespace cloudillo::access
