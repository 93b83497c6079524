// access: passwords, sessions, access tokens, API keys and token secrets (DESIGN
// "Shape"). A login is one call here and touches only access's tables; the name and
// picture shown in the login answer come from identity over gRPC.
//
// Token shape (PROTOCOL §3.1, §13.2, §13.12): HS256 with the tenant's current secret
// named by `kid`; claims iss (tenant), sub, scope?, r, exp = now + 3600.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "cloudillo/cache/ban_list.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/crypto/access_token.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/federation/key_resolver.h"
#include "cloudillo/federation/proxy_exchange.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/v1/access.grpc.pb.h"
#include "cloudillo/v1/identity.grpc.pb.h"

namespace cloudillo::access {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

struct AccessOptions {
  absl::Duration login_failure_delay = absl::Seconds(1);
};

// Handlers that hash passwords (Argon2id, 19 MiB each) run on `password_workers`: a
// pool sized from a memory budget, at low CPU priority, with a short queue, so a flood
// of logins can neither exhaust memory nor starve other tenants' requests; when it is
// full a login gets 503 E-SYS-UNAVAIL at once. Everything else runs on `workers`.
class AccessService final : public cloudillo::v1::Access::CallbackService,
                            public cloudillo::v1::AccessEdge::CallbackService {
 public:
  AccessService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                const crypto::MasterKey& master, const Clock& clock, AccessOptions options,
                rpc::WorkerPool& workers, rpc::WorkerPool& password_workers);
  // Loads (or, on first start, creates) the sealed API-key hashing key. Call before serving.
  absl::Status Init();
  void ConnectIdentity(std::shared_ptr<grpc::Channel> channel);
  // Outbound federation for the PROXY exchange (federated_access.cc); without it both
  // directions answer 503.
  void ConnectFederation(std::shared_ptr<federation::Client> client,
                         std::shared_ptr<federation::KeyResolver> keys);

  grpc::Service* internal_service() { return static_cast<cloudillo::v1::Access::CallbackService*>(this); }
  grpc::Service* edge_service() { return static_cast<cloudillo::v1::AccessEdge::CallbackService*>(this); }

  grpc::ServerUnaryReactor* GetTokenSecrets(grpc::CallbackServerContext*, const cloudillo::v1::TenantRef*,
                                            cloudillo::v1::TokenSecrets*) override;
  grpc::ServerUnaryReactor* ResolveApiKey(grpc::CallbackServerContext*,
                                          const cloudillo::v1::ResolveApiKeyRequest*,
                                          cloudillo::v1::ApiKeyIdentity*) override;
  grpc::ServerUnaryReactor* SetupTenant(grpc::CallbackServerContext*,
                                        const cloudillo::v1::SetupTenantRequest*,
                                        cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* SetPassword(grpc::CallbackServerContext*,
                                        const cloudillo::v1::SetPasswordRequest*,
                                        cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* RotateTokenSecret(grpc::CallbackServerContext*, const cloudillo::v1::TenantRef*,
                                              cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* DeleteTenantCredentials(grpc::CallbackServerContext*,
                                                    const cloudillo::v1::TenantRef*,
                                                    cloudillo::v1::Empty*) override;
  grpc::ServerUnaryReactor* ResealSecrets(grpc::CallbackServerContext*, const cloudillo::v1::Empty*,
                                          cloudillo::v1::ResealReply*) override;

  grpc::ServerUnaryReactor* LoginInit(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* QrLoginInit(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* QrLoginStatus(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;
  grpc::ServerUnaryReactor* QrLoginDetails(grpc::CallbackServerContext*, const ApiRequest*,
                                           ApiReply*) override;
  grpc::ServerUnaryReactor* QrLoginRespond(grpc::CallbackServerContext*, const ApiRequest*,
                                           ApiReply*) override;
  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* LoginToken(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ChangePassword(grpc::CallbackServerContext*, const ApiRequest*,
                                           ApiReply*) override;
  grpc::ServerUnaryReactor* AccessToken(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ProxyToken(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ListApiKeys(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* CreateApiKey(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetApiKey(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* PatchApiKey(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeleteApiKey(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  // Passkeys (PROTOCOL §3.7): passkey_handlers.cc.
  grpc::ServerUnaryReactor* PasskeyRegChallenge(grpc::CallbackServerContext*, const ApiRequest*,
                                                ApiReply*) override;
  grpc::ServerUnaryReactor* RegisterPasskey(grpc::CallbackServerContext*, const ApiRequest*,
                                            ApiReply*) override;
  grpc::ServerUnaryReactor* ListPasskeys(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeletePasskey(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;
  grpc::ServerUnaryReactor* PasskeyLoginChallenge(grpc::CallbackServerContext*, const ApiRequest*,
                                                  ApiReply*) override;
  grpc::ServerUnaryReactor* PasskeyLogin(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  // Refs (refs.cc).
  grpc::ServerUnaryReactor* ListRefs(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* CreateRef(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetRef(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* PatchRef(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeleteRef(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;

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
  // The login object of Appendix C.3. A caller whose authority comes from an API key
  // gets a token carrying the key's scope and origin, never a full session.
  absl::StatusOr<std::string> LoginJson(const cloudillo::v1::RequestContext& ctx);
  absl::Status InsertSecret(db::Tx& tx, int64_t tn_id, std::optional<absl::Time> expire_others_at);
  absl::Status FailLogin(const cloudillo::v1::RequestContext& ctx);
  std::string ApiKeyHash(std::string_view key) const;
  absl::StatusOr<cloudillo::v1::ApiKeyIdentity> LookUpApiKey(int64_t tn_id, const std::string& key);
  void Publish(const std::string& message);

  absl::StatusOr<ApiReply> DoLoginInit(const ApiRequest& req);
  // QR login (qr_login.cc).
  absl::StatusOr<nlohmann::json> CreateQrSession(const cloudillo::v1::RequestContext& ctx);
  absl::StatusOr<ApiReply> DoQrLoginInit(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoQrLoginStatus(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoQrLoginDetails(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoQrLoginRespond(const ApiRequest& req);
  absl::StatusOr<cloudillo::v1::LoginProfile> LoginProfileOf(int64_t tn_id);
  absl::StatusOr<ApiReply> DoLogin(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoLoginToken(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoLogout(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoChangePassword(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoAccessToken(const ApiRequest& req);
  // Cross-node access (federated_access.cc, PROTOCOL §3.4, §3.5, §13.1, E6, E7).
  absl::StatusOr<ApiReply> DoFederatedAccessToken(const ApiRequest& req, const std::string& scope);
  absl::StatusOr<ApiReply> DoProxyToken(const ApiRequest& req);
  absl::StatusOr<std::string> PeerRoles(int64_t tn_id, const std::string& peer);
  absl::StatusOr<std::string> SignProxy(int64_t tn_id, const std::string& aud, int64_t iat, int64_t exp);
  absl::StatusOr<ApiReply> DoListApiKeys(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoCreateApiKey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGetApiKey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPatchApiKey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDeleteApiKey(const ApiRequest& req);
  // Refs (refs.cc).
  absl::StatusOr<ApiReply> DoListRefs(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoCreateRef(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGetRef(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPatchRef(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDeleteRef(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoRefAccessToken(const ApiRequest& req);

  // Passkeys (passkey_handlers.cc). The challenge token is an HS256 JWT under a key
  // derived for this purpose alone, so it can never pass as an access token.
  std::string ChallengeKey() const;
  absl::StatusOr<std::string> MintChallenge(const cloudillo::v1::RequestContext& ctx, const char* purpose,
                                            std::string* challenge);
  absl::StatusOr<std::string> OpenChallenge(const cloudillo::v1::RequestContext& ctx, const char* purpose,
                                            const std::string& token);
  // `{options, token}` for a passkey login, or null when the tenant has no passkeys.
  absl::StatusOr<nlohmann::ordered_json> PasskeyLoginOffer(const cloudillo::v1::RequestContext& ctx);
  // The same for login-init, where a failure must not break the boot: null then.
  nlohmann::ordered_json PasskeyLoginOfferOrNull(const cloudillo::v1::RequestContext& ctx);
  absl::StatusOr<ApiReply> DoPasskeyRegChallenge(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoRegisterPasskey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoListPasskeys(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDeletePasskey(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPasskeyLoginChallenge(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPasskeyLogin(const ApiRequest& req);

  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  const crypto::MasterKey& master_;
  const Clock& clock_;
  AccessOptions options_;
  rpc::WorkerPool& workers_;
  rpc::WorkerPool& password_workers_;
  std::string api_key_hash_key_;  // set by Init()
  std::unique_ptr<cloudillo::v1::Identity::Stub> identity_;
  std::shared_ptr<federation::KeyResolver> keys_;
  std::unique_ptr<federation::ProxyExchange> proxy_;
};

// "a,b" -> ["a","b"] (the `roles` arrays of the login and proxy-token answers).
nlohmann::json RolesArray(std::string_view roles);
// The §3.1 hierarchy up to the highest role named, then any other roles as given:
// "contributor" -> "public,follower,supporter,contributor" (the reference's expand_roles).
std::string ExpandRoles(std::string_view roles);

}  // namespace cloudillo::access
