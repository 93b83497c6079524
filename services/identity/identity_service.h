// identity: tenants, profiles, settings and signing keys (DESIGN "Shape").
//
// IdentityService serves two gRPC services: `Identity` (internal lookups for the
// gateway and access) and `IdentityEdge` (the REST routes the gateway maps; profile
// and settings JSON is written here, one place per shape). Who may call which method
// is in access_policy.cc. Handlers that touch PostgreSQL run on `workers`; the
// /api/me family is answered inline from the profile cache when it can be.
//
// It is built from plain dependencies and never reads the environment, so the split
// binary, the all-in-one binary and the tests construct it the same way.
#pragma once

#include <memory>

#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/v1/identity.grpc.pb.h"
#include "profile_cache.h"
#include "signing_keys.h"

namespace cloudillo::identity {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

class IdentityService final : public cloudillo::v1::Identity::CallbackService,
                              public cloudillo::v1::IdentityEdge::CallbackService {
 public:
  IdentityService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                  const crypto::MasterKey& master, const Clock& clock, rpc::WorkerPool& workers);

  grpc::Service* internal_service() { return static_cast<cloudillo::v1::Identity::CallbackService*>(this); }
  grpc::Service* edge_service() { return static_cast<cloudillo::v1::IdentityEdge::CallbackService*>(this); }

  // Identity (internal)
  grpc::ServerUnaryReactor* ResolveTenant(grpc::CallbackServerContext*,
                                          const cloudillo::v1::ResolveTenantRequest*,
                                          cloudillo::v1::Tenant*) override;
  grpc::ServerUnaryReactor* GetLoginProfile(grpc::CallbackServerContext*, const cloudillo::v1::TenantRef*,
                                            cloudillo::v1::LoginProfile*) override;
  // For the action service (federation_rpcs.cc).
  grpc::ServerUnaryReactor* SignAction(grpc::CallbackServerContext*, const cloudillo::v1::SignActionRequest*,
                                       cloudillo::v1::SignedAction*) override;
  grpc::ServerUnaryReactor* GetRelationships(grpc::CallbackServerContext*,
                                             const cloudillo::v1::RelationshipsRequest*,
                                             cloudillo::v1::Relationships*) override;
  grpc::ServerUnaryReactor* UpdateRelationship(grpc::CallbackServerContext*,
                                               const cloudillo::v1::RelationshipUpdate*,
                                               cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* ListFollowers(grpc::CallbackServerContext*,
                                          const cloudillo::v1::FollowersRequest*,
                                          cloudillo::v1::FollowersReply*) override;
  grpc::ServerUnaryReactor* GetTenantSettings(grpc::CallbackServerContext*,
                                              const cloudillo::v1::TenantSettingsRequest*,
                                              cloudillo::v1::TenantSettingsReply*) override;
  grpc::ServerUnaryReactor* SetProfileImage(grpc::CallbackServerContext*,
                                            const cloudillo::v1::SetProfileImageRequest*,
                                            cloudillo::v1::Empty*) override;

  // IdentityEdge (REST)
  grpc::ServerUnaryReactor* GetMe(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetMeFull(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* PatchMe(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetAppDomain(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ListProfiles(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetProfile(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ListSettings(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetSetting(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* PutSetting(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeleteSetting(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;

  ProfileCache& profiles() { return profiles_; }

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
  // After a commit: tells other processes' caches (action's inbox) to drop their copy.
  void Announce(const std::string& message);

  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  const Clock& clock_;
  rpc::WorkerPool& workers_;
  SigningKeys keys_;
  ProfileCache profiles_;
};

}  // namespace cloudillo::identity
