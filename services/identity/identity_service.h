// identity: tenants, profiles, settings and signing keys (DESIGN "Shape").
//
// IdentityService answers the gateway's REST routes (profile and settings JSON is
// written here, one place per shape) and the internal lookups the gateway and access
// need. It is built from plain dependencies and never reads the environment, so the
// split binary, the all-in-one binary and the tests construct it the same way.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>

#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/v1/identity.grpc.pb.h"
#include "signing_keys.h"

namespace cloudillo::identity {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

class IdentityService final : public cloudillo::v1::Identity::Service {
 public:
  IdentityService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                  const crypto::MasterKey& master, const Clock& clock);

  grpc::Status ResolveTenant(grpc::ServerContext*, const cloudillo::v1::ResolveTenantRequest*,
                             cloudillo::v1::Tenant*) override;
  grpc::Status GetLoginProfile(grpc::ServerContext*, const cloudillo::v1::TenantRef*,
                               cloudillo::v1::LoginProfile*) override;

  grpc::Status GetMe(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status GetMeFull(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status PatchMe(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status GetAppDomain(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status ListProfiles(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status GetProfile(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status ListSettings(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status GetSetting(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status PutSetting(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::Status DeleteSetting(grpc::ServerContext*, const ApiRequest*, ApiReply*) override;

  // Drops the cached profile of a tenant (after a change made in this process; other
  // replicas see changes when their short-lived entry expires).
  void ForgetProfile(int64_t tn_id);

  // A tenant's profile row and published keys, as read for /api/me and logins.
  struct ProfileSnapshot;

 private:
  absl::StatusOr<ApiReply> DoGetMe(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGetMeFull(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPatchMe(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoListProfiles(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGetProfile(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoListSettings(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGetSetting(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPutSetting(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDeleteSetting(const ApiRequest& req);

  absl::StatusOr<std::shared_ptr<const ProfileSnapshot>> Profile(int64_t tn_id);

  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  const Clock& clock_;
  SigningKeys keys_;
  // /api/me is what every peer polls: serving it from memory for a couple of seconds
  // saves two queries per request (see docs/benchmarks.md).
  std::mutex profiles_mu_;
  std::unordered_map<int64_t, std::shared_ptr<const ProfileSnapshot>> profiles_;
};

}  // namespace cloudillo::identity
