// Secrets, sessions and login (PROTOCOL §3.1, §3.6, §3.7, Appendix C.2-C.6, §13.11).
#include "access_service.h"

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/random.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/crypto/password.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/server.h"

namespace cloudillo::access {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr int64_t kTokenLifetime = 3600;
// A rotated secret must outlive every token it signed: lifetime plus verify leeway.
constexpr absl::Duration kRotatedSecretLife = absl::Seconds(3600 + 120);

std::string SecretAad(int64_t tn_id, const std::string& kid) {
  return "access.token_secrets:" + std::to_string(tn_id) + ":" + kid;
}

}  // namespace

json RolesArray(std::string_view roles) {
  json arr = json::array();
  size_t start = 0;
  while (start < roles.size()) {
    size_t comma = roles.find(',', start);
    if (comma == std::string_view::npos) comma = roles.size();
    if (comma > start) arr.push_back(std::string(roles.substr(start, comma - start)));
    start = comma + 1;
  }
  return arr;
}

namespace {

// `file:<id>:R|C|W`, `apkg:publish`, `carddav:read|write`, `caldav:read|write` (§3.3).
bool ValidScope(std::string_view scope) {
  if (scope == "apkg:publish" || scope == "carddav:read" || scope == "carddav:write" ||
      scope == "caldav:read" || scope == "caldav:write") {
    return true;
  }
  if (scope.substr(0, 5) != "file:" || scope.size() < 8) return false;
  char access = scope.back();
  if (scope[scope.size() - 2] != ':' || (access != 'R' && access != 'C' && access != 'W')) return false;
  std::string_view id = scope.substr(5, scope.size() - 7);
  if (id.empty() || id.size() > 200) return false;
  for (char c : id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '~' || c == '-' || c == '_' || c == '.' || c == '@'))
      return false;
  }
  return true;
}

bool ValidScopeList(std::string_view scopes) {
  size_t start = 0;
  while (start <= scopes.size()) {
    size_t comma = scopes.find(',', start);
    if (comma == std::string_view::npos) comma = scopes.size();
    if (!ValidScope(scopes.substr(start, comma - start))) return false;
    start = comma + 1;
  }
  return true;
}

}  // namespace

const char* AccessService::OwnerRoles() { return "public,follower,supporter,contributor,moderator,leader"; }

AccessService::AccessService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                             const crypto::MasterKey& master, const Clock& clock, AccessOptions options,
                             rpc::WorkerPool& workers, rpc::WorkerPool& password_workers)
    : pool_(std::move(pool)),
      redis_(std::move(redis)),
      master_(master),
      clock_(clock),
      options_(options),
      workers_(workers),
      password_workers_(password_workers) {}

// API keys are stored as an HMAC under a key of their own. It is kept sealed in the
// database rather than derived from the master key, so rotating the master key
// reseals it instead of invalidating every API key. The first start of a deployment
// that used the derived key stores that very key, so existing API keys stay valid.
absl::Status AccessService::Init() {
  constexpr char kName[] = "api_key_hash";
  const std::string aad = "access.hash_keys:api_key_hash";
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("SELECT sealed_key FROM hash_keys WHERE name = $1", {db::P(kName)}));
  if (r.empty()) {
    CL_ASSIGN_OR_RETURN(std::string sealed, master_.Seal(master_.Derive("access.api_keys.hash"), aad));
    CL_RETURN_IF_ERROR(pool_
                           ->Query("INSERT INTO hash_keys (name, sealed_key) VALUES ($1, $2) "
                                   "ON CONFLICT (name) DO NOTHING",
                                   {db::P(kName), db::P(Base64Encode(sealed))})
                           .status());
    CL_ASSIGN_OR_RETURN(r, pool_->Query("SELECT sealed_key FROM hash_keys WHERE name = $1", {db::P(kName)}));
    if (r.empty()) return absl::InternalError("API key hashing key missing after insert");
  }
  CL_ASSIGN_OR_RETURN(std::string sealed, Base64Decode(r.rows[0].Str(0)));
  CL_ASSIGN_OR_RETURN(api_key_hash_key_, master_.Open(sealed, aad));
  return absl::OkStatus();
}

void AccessService::ConnectIdentity(std::shared_ptr<grpc::Channel> channel) {
  identity_ = cloudillo::v1::Identity::NewStub(std::move(channel));
}

void AccessService::Publish(const std::string& message) {
  absl::Status st = redis_->Publish(cache::kInvalidationChannel, message);
  if (!st.ok())
    LogWarn("invalidation_publish_failed", {{"message", message}, {"error", std::string(st.message())}});
}

std::string AccessService::ApiKeyHash(std::string_view key) const {
  return Base64UrlEncode(crypto::HmacSha256(api_key_hash_key_, key));
}

absl::Status AccessService::InsertSecret(db::Tx& tx, int64_t tn_id,
                                         std::optional<absl::Time> expire_others_at) {
  std::string kid = RandomAlnum(8);
  CL_ASSIGN_OR_RETURN(std::string sealed_raw, master_.Seal(RandomBytes(32), SecretAad(tn_id, kid)));
  std::string sealed = Base64Encode(sealed_raw);
  if (expire_others_at) {
    CL_RETURN_IF_ERROR(tx.Query("UPDATE token_secrets SET expires_at = to_timestamp($2) WHERE tn_id = $1 AND "
                                "(expires_at IS NULL OR expires_at > to_timestamp($2))",
                                {db::P(tn_id), db::P(absl::ToUnixSeconds(*expire_others_at))})
                           .status());
  }
  return tx
      .Query("INSERT INTO token_secrets (tn_id, kid, sealed_secret) VALUES ($1, $2, $3)",
             {db::P(tn_id), db::P(kid), db::P(sealed)})
      .status();
}

absl::StatusOr<AccessService::Secret> AccessService::CurrentSecret(int64_t tn_id) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("SELECT kid, sealed_secret FROM token_secrets WHERE tn_id = $1 AND "
                                   "expires_at IS NULL ORDER BY created_at DESC LIMIT 1",
                                   {db::P(tn_id)}));
  if (r.empty()) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(std::string secret, OpenSecret(tn_id, r.rows[0].Str(0), r.rows[0].Str(1)));
  return Secret{r.rows[0].Str(0), std::move(secret)};
}

absl::StatusOr<std::string> AccessService::OpenSecret(int64_t tn_id, const std::string& kid,
                                                      const std::string& sealed_b64) const {
  CL_ASSIGN_OR_RETURN(std::string sealed, Base64Decode(sealed_b64));
  return master_.Open(sealed, SecretAad(tn_id, kid));
}

absl::StatusOr<std::string> AccessService::MintToken(int64_t tn_id, crypto::AccessClaims claims) {
  CL_ASSIGN_OR_RETURN(Secret s, CurrentSecret(tn_id));
  claims.exp = absl::ToUnixSeconds(clock_.Now()) + kTokenLifetime;
  return crypto::SignAccessToken(claims, s.secret, s.kid);
}

// The login object of Appendix C.3 for the tenant owner, or for an API key of the
// owner (then the token keeps the key's scope and origin).
absl::StatusOr<cloudillo::v1::LoginProfile> AccessService::LoginProfileOf(int64_t tn_id) {
  if (!identity_) return absl::UnavailableError("identity service not connected");
  cloudillo::v1::TenantRef ref;
  ref.set_tn_id(tn_id);
  cloudillo::v1::LoginProfile profile;
  auto call = rpc::ContextWithDeadline(absl::Seconds(5));
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(identity_->GetLoginProfile(call.get(), ref, &profile)));
  return profile;
}

absl::StatusOr<std::string> AccessService::LoginJson(const cloudillo::v1::RequestContext& ctx) {
  CL_ASSIGN_OR_RETURN(cloudillo::v1::LoginProfile profile, LoginProfileOf(ctx.tn_id()));
  crypto::AccessClaims claims;
  claims.iss = ctx.id_tag();
  claims.sub = ctx.id_tag();
  claims.roles = OwnerRoles();
  if (ctx.auth_kind() == "api_key") {
    claims.api_key_id = ctx.api_key_id();
    if (!ctx.scope().empty()) claims.scope = ctx.scope();
  }
  CL_ASSIGN_OR_RETURN(std::string token, MintToken(ctx.tn_id(), claims));
  ojson login;
  login["tnId"] = ctx.tn_id();
  login["idTag"] = ctx.id_tag();
  login["roles"] = RolesArray(OwnerRoles());
  login["token"] = token;
  login["name"] = profile.name().empty() ? ctx.id_tag() : profile.name();
  login["profilePic"] = profile.profile_pic();
  login["settings"] = json::array();
  return login.dump();
}

absl::Status AccessService::FailLogin(const cloudillo::v1::RequestContext& ctx) {
  if (auto addr = cache::ClientAddress::Parse(ctx.client_ip()); addr.ok()) {
    absl::Status st = cache::Penalize(*redis_, *addr, cache::PenaltyReason::kAuthFailure);
    if (!st.ok()) LogWarn("penalty_not_recorded", {{"error", std::string(st.message())}});
  }
  // The delay is served by the gateway on a timer: no thread waits here or there.
  return rpc::WithAnswerDelay(rpc::Forbidden(), options_.login_failure_delay);
}

// --- internal RPCs -----------------------------------------------------------------

grpc::ServerUnaryReactor* AccessService::GetTokenSecrets(grpc::CallbackServerContext* ctx,
                                                         const cloudillo::v1::TenantRef* req,
                                                         cloudillo::v1::TokenSecrets* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::TokenSecrets> {
    CL_ASSIGN_OR_RETURN(
        db::Result r,
        pool_->Query("SELECT kid, sealed_secret, coalesce(extract(epoch FROM expires_at)::bigint, 0) "
                     "FROM token_secrets WHERE tn_id = $1 AND (expires_at IS NULL OR expires_at > now())",
                     {db::P(req->tn_id())}));
    cloudillo::v1::TokenSecrets secrets;
    for (const auto& row : r.rows) {
      CL_ASSIGN_OR_RETURN(std::string secret, OpenSecret(req->tn_id(), row.Str(0), row.Str(1)));
      auto* s = secrets.add_secrets();
      s->set_kid(row.Str(0));
      s->set_secret(secret);
      s->set_expires_at(row.Int(2));
    }
    return secrets;
  });
}

grpc::ServerUnaryReactor* AccessService::ResolveApiKey(grpc::CallbackServerContext* ctx,
                                                       const cloudillo::v1::ResolveApiKeyRequest* req,
                                                       cloudillo::v1::ApiKeyIdentity* out) {
  return rpc::Serve(ctx, out, workers_, [=, this] { return LookUpApiKey(req->tn_id(), req->key()); });
}

absl::StatusOr<cloudillo::v1::ApiKeyIdentity> AccessService::LookUpApiKey(int64_t tn_id,
                                                                          const std::string& key) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("SELECT k.key_id, k.tn_id, c.id_tag, coalesce(k.scopes, ''), "
                                   "coalesce(extract(epoch FROM k.expires_at)::bigint, 0) "
                                   "FROM api_keys k JOIN credentials c USING (tn_id) WHERE k.key_hash = $1",
                                   {db::P(ApiKeyHash(key))}));
  // Another tenant's key is as unknown here as a made-up one.
  if (r.empty() || r.rows[0].Int(1) != tn_id) return rpc::Forbidden("invalid API key");
  int64_t exp = r.rows[0].Int(4);
  if (exp != 0 && exp <= absl::ToUnixSeconds(clock_.Now())) return rpc::Forbidden("API key expired");
  (void)pool_->Query("UPDATE api_keys SET last_used_at = now() WHERE key_id = $1", {db::P(r.rows[0].Int(0))});
  cloudillo::v1::ApiKeyIdentity id;
  id.set_tn_id(r.rows[0].Int(1));
  id.set_subject(r.rows[0].Str(2));
  id.set_roles(OwnerRoles());
  id.set_scope(r.rows[0].Str(3));
  id.set_expires_at(exp);
  id.set_key_id(r.rows[0].Str(0));
  return id;
}

grpc::ServerUnaryReactor* AccessService::SetupTenant(grpc::CallbackServerContext* ctx,
                                                     const cloudillo::v1::SetupTenantRequest* req,
                                                     cloudillo::v1::Empty* out) {
  return rpc::Serve(ctx, out, password_workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Empty> {
    std::optional<std::string> hash;
    if (!req->password().empty()) {
      CL_ASSIGN_OR_RETURN(hash, crypto::HashPassword(req->password()));
    }
    CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
      CL_RETURN_IF_ERROR(
          tx.Query("INSERT INTO credentials (tn_id, id_tag, password_hash) VALUES ($1, $2, $3)",
                   {db::P(req->tn_id()), db::P(req->id_tag()), hash ? db::P(*hash) : db::Null()})
              .status());
      return InsertSecret(tx, req->tn_id(), std::nullopt);
    }));
    return cloudillo::v1::Empty();
  });
}

grpc::ServerUnaryReactor* AccessService::SetPassword(grpc::CallbackServerContext* ctx,
                                                     const cloudillo::v1::SetPasswordRequest* req,
                                                     cloudillo::v1::Empty* out) {
  return rpc::Serve(ctx, out, password_workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Empty> {
    if (req->password().size() < 8)
      return absl::InvalidArgumentError("password must be at least 8 characters");
    CL_ASSIGN_OR_RETURN(std::string hash, crypto::HashPassword(req->password()));
    CL_ASSIGN_OR_RETURN(db::Result r,
                        pool_->Query("UPDATE credentials SET password_hash = $2, updated_at = now() "
                                     "WHERE tn_id = $1",
                                     {db::P(req->tn_id()), db::P(hash)}));
    if (r.affected == 0) return absl::NotFoundError("no such tenant");
    return cloudillo::v1::Empty();
  });
}

grpc::ServerUnaryReactor* AccessService::RotateTokenSecret(grpc::CallbackServerContext* ctx,
                                                           const cloudillo::v1::TenantRef* req,
                                                           cloudillo::v1::Empty* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Empty> {
    CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
      CL_ASSIGN_OR_RETURN(db::Result r, tx.Query("SELECT 1 FROM credentials WHERE tn_id = $1 FOR UPDATE",
                                                 {db::P(req->tn_id())}));
      if (r.empty()) return absl::NotFoundError("no such tenant");
      return InsertSecret(tx, req->tn_id(), clock_.Now() + kRotatedSecretLife);
    }));
    Publish(cache::SecretsInvalidation(req->tn_id()));
    LogInfo("token_secret_rotated", {{"tn_id", req->tn_id()}});
    return cloudillo::v1::Empty();
  });
}

grpc::ServerUnaryReactor* AccessService::DeleteTenantCredentials(grpc::CallbackServerContext* ctx,
                                                                 const cloudillo::v1::TenantRef* req,
                                                                 cloudillo::v1::Empty* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Empty> {
    CL_RETURN_IF_ERROR(
        pool_->Query("DELETE FROM credentials WHERE tn_id = $1", {db::P(req->tn_id())}).status());
    Publish(cache::SecretsInvalidation(req->tn_id()));
    Publish(cache::ApiKeysInvalidation(req->tn_id()));
    return cloudillo::v1::Empty();
  });
}

grpc::ServerUnaryReactor* AccessService::ResealSecrets(grpc::CallbackServerContext* ctx,
                                                       const cloudillo::v1::Empty*,
                                                       cloudillo::v1::ResealReply* out) {
  return rpc::Serve(ctx, out, workers_, [this]() -> absl::StatusOr<cloudillo::v1::ResealReply> {
    cloudillo::v1::ResealReply reply;
    // One compare-and-set per value: a secret rotated meanwhile keeps its new value.
    auto reseal = [&](const std::string& select, const std::string& update,
                      const std::function<std::string(const db::Row&)>& aad) -> absl::Status {
      CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(select));
      for (const auto& row : r.rows) {
        const std::string& stored = row.Str(row.size() - 1);
        auto sealed = Base64Decode(stored);
        if (!sealed.ok() || !master_.NeedsReseal(*sealed)) continue;
        auto plain = master_.Open(*sealed, aad(row));
        auto again =
            plain.ok() ? master_.Seal(*plain, aad(row)) : absl::StatusOr<std::string>(plain.status());
        std::vector<db::Param> params;
        for (size_t i = 0; i + 1 < row.size(); ++i) params.push_back(db::P(row.Str(i)));
        params.push_back(db::P(stored));
        params.push_back(again.ok() ? db::P(Base64Encode(*again)) : db::Null());
        auto done = again.ok() ? pool_->Query(update, params) : absl::StatusOr<db::Result>(again.status());
        if (done.ok() && done->affected == 1) {
          reply.set_resealed(reply.resealed() + 1);
        } else {
          reply.set_remaining(reply.remaining() + 1);
        }
      }
      return absl::OkStatus();
    };
    CL_RETURN_IF_ERROR(reseal("SELECT tn_id, kid, sealed_secret FROM token_secrets",
                              "UPDATE token_secrets SET sealed_secret = $4 WHERE tn_id = $1 AND kid = $2 "
                              "AND sealed_secret = $3",
                              [](const db::Row& row) { return SecretAad(row.Int(0), row.Str(1)); }));
    CL_RETURN_IF_ERROR(reseal("SELECT name, sealed_key FROM hash_keys",
                              "UPDATE hash_keys SET sealed_key = $3 WHERE name = $1 AND sealed_key = $2",
                              [](const db::Row& row) { return "access.hash_keys:" + row.Str(0); }));
    return reply;  // plaintexts are unchanged: no cache needs dropping
  });
}

// --- REST ----------------------------------------------------------------------------

grpc::ServerUnaryReactor* AccessService::LoginInit(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                   ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoLoginInit(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoLoginInit(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (rpc::IsOwner(ctx)) {
    CL_ASSIGN_OR_RETURN(std::string login, LoginJson(ctx));
    ApiReply r;
    r.set_data_json("{\"status\":\"authenticated\",\"login\":" + login + "}");
    return r;
  }
  CL_ASSIGN_OR_RETURN(json qr, CreateQrSession(ctx));
  ojson data;
  data["status"] = "unauthenticated";
  data["qrLogin"] = qr;
  data["webAuthn"] = PasskeyLoginOfferOrNull(ctx);  // required, nullable (Appendix C.2)
  CL_ASSIGN_OR_RETURN(cloudillo::v1::LoginProfile profile, LoginProfileOf(ctx.tn_id()));
  if (!profile.masked_email().empty()) data["maskedEmail"] = profile.masked_email();
  return rpc::Data(data);
}

grpc::ServerUnaryReactor* AccessService::Login(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                               ApiReply* out) {
  return rpc::Serve(ctx, out, password_workers_, [this, req] { return DoLogin(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoLogin(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  auto id = body.find("idTag");
  auto pw = body.find("password");
  if (id == body.end() || !id->is_string() || pw == body.end() || !pw->is_string()) {
    return rpc::BadRequest("body must be {\"idTag\": string, \"password\": string}");
  }
  const auto& ctx = req.ctx();
  // §13.11: a login on cl-o.<A> logs in A only; anything else looks like a bad password.
  auto canonical = CanonicalIdTag(id->get<std::string>());
  if (!canonical.ok() || *canonical != ctx.id_tag()) return FailLogin(ctx);
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("SELECT coalesce(password_hash, '') FROM credentials WHERE tn_id = $1",
                                   {db::P(ctx.tn_id())}));
  if (r.empty()) return FailLogin(ctx);
  crypto::PasswordCheck check = crypto::VerifyPassword(pw->get<std::string>(), r.rows[0].Str(0));
  if (!check.match) return FailLogin(ctx);
  if (check.needs_rehash) {
    if (auto h = crypto::HashPassword(pw->get<std::string>()); h.ok()) {
      (void)pool_->Query("UPDATE credentials SET password_hash = $2, updated_at = now() WHERE tn_id = $1",
                         {db::P(ctx.tn_id()), db::P(*h)});
    }
  }
  CL_ASSIGN_OR_RETURN(std::string login, LoginJson(ctx));
  LogInfo("login", {{"tn_id", ctx.tn_id()}, {"ip", ctx.client_ip()}});
  ApiReply reply;
  reply.set_data_json(login);
  return reply;
}

grpc::ServerUnaryReactor* AccessService::LoginToken(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                    ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoLoginToken(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoLoginToken(const ApiRequest& req) {
  ApiReply reply;
  if (!rpc::IsOwner(req.ctx())) {
    reply.set_data_json("null");
    return reply;
  }
  CL_ASSIGN_OR_RETURN(std::string login, LoginJson(req.ctx()));
  reply.set_data_json(login);
  return reply;
}

grpc::ServerUnaryReactor* AccessService::Logout(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoLogout(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoLogout(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  if (auto k = body.find("apiKey"); k != body.end() && k->is_string()) {
    CL_ASSIGN_OR_RETURN(db::Result r,
                        pool_->Query("DELETE FROM api_keys WHERE tn_id = $1 AND key_hash = $2",
                                     {db::P(req.ctx().tn_id()), db::P(ApiKeyHash(k->get<std::string>()))}));
    if (r.affected > 0) Publish(cache::ApiKeysInvalidation(req.ctx().tn_id()));
  }
  ApiReply reply;
  reply.set_data_json("null");
  return reply;
}

grpc::ServerUnaryReactor* AccessService::ChangePassword(grpc::CallbackServerContext* ctx,
                                                        const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, password_workers_, [this, req] { return DoChangePassword(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoChangePassword(const ApiRequest& req) {
  if (!rpc::IsOwner(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  auto cur = body.find("currentPassword");
  auto next = body.find("newPassword");
  if (cur == body.end() || !cur->is_string() || next == body.end() || !next->is_string()) {
    return rpc::BadRequest("body must be {\"currentPassword\": string, \"newPassword\": string}");
  }
  if (next->get<std::string>().size() < 8)
    return rpc::BadRequest("newPassword must be at least 8 characters");
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("SELECT coalesce(password_hash, '') FROM credentials WHERE tn_id = $1",
                                   {db::P(req.ctx().tn_id())}));
  if (r.empty() || !crypto::VerifyPassword(cur->get<std::string>(), r.rows[0].Str(0)).match)
    return FailLogin(req.ctx());
  CL_ASSIGN_OR_RETURN(std::string hash, crypto::HashPassword(next->get<std::string>()));
  CL_RETURN_IF_ERROR(
      pool_
          ->Query("UPDATE credentials SET password_hash = $2, updated_at = now() WHERE tn_id = $1",
                  {db::P(req.ctx().tn_id()), db::P(hash)})
          .status());
  ApiReply reply;
  reply.set_data_json("null");
  return reply;
}

grpc::ServerUnaryReactor* AccessService::AccessToken(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                     ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoAccessToken(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoAccessToken(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  const std::string& api_key = rpc::QueryParam(req, "apiKey");
  const std::string& scope = rpc::QueryParam(req, "scope");
  if (!scope.empty() && !ValidScope(scope)) return rpc::BadRequest("invalid scope");
  // Present even when empty: an empty token is a refusal too (E6 recommend).
  if (req.query().count("token") != 0) return DoFederatedAccessToken(req, scope);
  if (!rpc::QueryParam(req, "via").empty()) {
    return rpc::Forbidden("embed tokens are not available on this server yet");
  }
  if (req.query().count("refId") != 0) return DoRefAccessToken(req);
  crypto::AccessClaims claims;
  claims.iss = ctx.id_tag();
  if (!api_key.empty()) {
    cloudillo::v1::ApiKeyIdentity id;
    CL_ASSIGN_OR_RETURN(id, LookUpApiKey(ctx.tn_id(), api_key));
    claims.sub = id.subject();
    claims.roles = id.roles();
    int64_t key_id = 0;
    if (!absl::SimpleAtoi(AV(id.key_id()), &key_id)) return absl::InternalError("bad API key id");
    claims.api_key_id = key_id;  // the token can do no more than the key
    // A scoped key mints its own scope; an unscoped key may narrow to one.
    if (!id.scope().empty() && !scope.empty() && scope != id.scope()) return rpc::Forbidden();
    if (!id.scope().empty()) {
      claims.scope = id.scope();
    } else if (!scope.empty()) {
      claims.scope = scope;
    }
  } else {
    if (!ctx.authenticated()) return rpc::Unauthorized();
    // A scoped token may re-mint its own scope, never widen it (§10 "Share links and scopes").
    if (!ctx.scope().empty() && scope != ctx.scope()) return rpc::Forbidden();
    claims.sub = ctx.subject();
    claims.roles = rpc::IsOwner(ctx) ? std::string(OwnerRoles()) : ctx.roles();
    if (claims.roles->empty()) claims.roles.reset();
    if (!scope.empty()) claims.scope = scope;
    // A token re-minted from a key's token stays the key's token.
    if (ctx.auth_kind() == "api_key") claims.api_key_id = ctx.api_key_id();
  }
  CL_ASSIGN_OR_RETURN(std::string token, MintToken(ctx.tn_id(), claims));
  return rpc::Data(json{{"token", token}});
}

// --- API keys ------------------------------------------------------------------------

namespace {

constexpr char kKeyColumns[] =
    "key_id, key_prefix, name, scopes, extract(epoch FROM expires_at)::bigint, "
    "extract(epoch FROM created_at)::bigint, extract(epoch FROM last_used_at)::bigint";

ojson KeyJson(const db::Row& r) {
  ojson k;
  k["keyId"] = r.Int(0);
  k["keyPrefix"] = r.Str(1);
  if (!r.IsNull(2)) k["name"] = r.Str(2);
  if (!r.IsNull(3)) k["scopes"] = r.Str(3);
  if (!r.IsNull(4)) k["expiresAt"] = r.Int(4);
  k["createdAt"] = r.Int(5);
  if (!r.IsNull(6)) k["lastUsedAt"] = r.Int(6);
  return k;
}

bool MayManageKeys(const cloudillo::v1::RequestContext& ctx) {
  return rpc::IsOwner(ctx) && ctx.auth_kind() == "token";
}

// Tri-state PATCH field (absent, null, value): returns the SQL fragment and param.
struct KeyFields {
  std::optional<db::Param> name, scopes, expires_at;
};

absl::StatusOr<KeyFields> ParseKeyFields(const json& body, int64_t now) {
  KeyFields f;
  if (auto n = body.find("name"); n != body.end()) {
    if (n->is_null())
      f.name = db::Null();
    else if (n->is_string() && n->get_ref<const std::string&>().size() <= 200)
      f.name = db::P(n->get<std::string>());
    else
      return rpc::BadRequest("name must be a string of at most 200 bytes");
  }
  if (auto s = body.find("scopes"); s != body.end()) {
    if (s->is_null()) {
      f.scopes = db::Null();
    } else if (s->is_string() && ValidScopeList(s->get<std::string>())) {
      f.scopes = db::P(s->get<std::string>());
    } else {
      return rpc::BadRequest("scopes must be a comma-separated list of valid scopes");
    }
  }
  if (auto e = body.find("expiresAt"); e != body.end()) {
    if (e->is_null())
      f.expires_at = db::Null();
    else if (e->is_number_integer() && e->get<int64_t>() > now)
      f.expires_at = db::P(e->get<int64_t>());
    else
      return rpc::BadRequest("expiresAt must be a future epoch time in seconds");
  }
  return f;
}

absl::StatusOr<int64_t> KeyIdParam(const ApiRequest& req) {
  auto it = req.path().find("keyId");
  int64_t id = 0;
  if (it == req.path().end() || it->second.empty() || it->second.size() > 18)
    return rpc::BadRequest("invalid keyId");
  for (char c : it->second) {
    if (c < '0' || c > '9') return rpc::BadRequest("invalid keyId");
    id = id * 10 + (c - '0');
  }
  return id;
}

}  // namespace

grpc::ServerUnaryReactor* AccessService::ListApiKeys(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                     ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoListApiKeys(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoListApiKeys(const ApiRequest& req) {
  if (!MayManageKeys(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(std::string("SELECT ") + kKeyColumns +
                                                     " FROM api_keys WHERE tn_id = $1 ORDER BY key_id",
                                                 {db::P(req.ctx().tn_id())}));
  ojson arr = ojson::array();
  for (const auto& row : r.rows) arr.push_back(KeyJson(row));
  ApiReply reply;
  reply.set_data_json(arr.dump());
  return reply;
}

grpc::ServerUnaryReactor* AccessService::CreateApiKey(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                      ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoCreateApiKey(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoCreateApiKey(const ApiRequest& req) {
  if (!MayManageKeys(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req, true));
  CL_ASSIGN_OR_RETURN(KeyFields f, ParseKeyFields(body, absl::ToUnixSeconds(clock_.Now())));
  std::string plaintext = "cl_" + Base64UrlEncode(RandomBytes(32));
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query(
          std::string("INSERT INTO api_keys (tn_id, key_prefix, key_hash, name, scopes, "
                      "expires_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6)) RETURNING ") +
              kKeyColumns,
          {db::P(req.ctx().tn_id()), db::P(plaintext.substr(0, 11)), db::P(ApiKeyHash(plaintext)),
           f.name.value_or(db::Null()), f.scopes.value_or(db::Null()), f.expires_at.value_or(db::Null())}));
  ojson k = KeyJson(r.rows[0]);
  ojson created;
  created["keyId"] = k["keyId"];
  created["keyPrefix"] = k["keyPrefix"];
  created["plaintextKey"] = plaintext;  // shown once, never stored
  for (const char* f2 : {"name", "scopes", "expiresAt"}) {
    if (k.contains(f2)) created[f2] = k[f2];
  }
  created["createdAt"] = k["createdAt"];
  ApiReply reply;
  reply.set_data_json(created.dump());
  reply.set_http_status(201);
  return reply;
}

grpc::ServerUnaryReactor* AccessService::GetApiKey(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                   ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoGetApiKey(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoGetApiKey(const ApiRequest& req) {
  if (!MayManageKeys(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t id, KeyIdParam(req));
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(std::string("SELECT ") + kKeyColumns +
                                                     " FROM api_keys WHERE tn_id = $1 AND key_id = $2",
                                                 {db::P(req.ctx().tn_id()), db::P(id)}));
  if (r.empty()) return rpc::NotFoundError("API key not found");
  ApiReply reply;
  reply.set_data_json(KeyJson(r.rows[0]).dump());
  return reply;
}

grpc::ServerUnaryReactor* AccessService::PatchApiKey(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                     ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoPatchApiKey(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoPatchApiKey(const ApiRequest& req) {
  if (!MayManageKeys(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t id, KeyIdParam(req));
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  CL_ASSIGN_OR_RETURN(KeyFields f, ParseKeyFields(body, absl::ToUnixSeconds(clock_.Now())));
  std::vector<db::Param> params = {db::P(req.ctx().tn_id()), db::P(id)};
  std::string set = "key_id = key_id";
  auto add = [&](const char* col, const std::optional<db::Param>& p, bool time) {
    if (!p) return;
    params.push_back(*p);
    std::string ref = "$" + std::to_string(params.size());
    set += std::string(", ") + col + " = " + (time ? "to_timestamp(" + ref + ")" : ref);
  };
  add("name", f.name, false);
  add("scopes", f.scopes, false);
  add("expires_at", f.expires_at, true);
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("UPDATE api_keys SET " + set +
                                                     " WHERE tn_id = $1 AND key_id = $2 "
                                                     "RETURNING " +
                                                     kKeyColumns,
                                                 params));
  if (r.empty()) return rpc::NotFoundError("API key not found");
  Publish(cache::ApiKeysInvalidation(req.ctx().tn_id()));
  ApiReply reply;
  reply.set_data_json(KeyJson(r.rows[0]).dump());
  return reply;
}

grpc::ServerUnaryReactor* AccessService::DeleteApiKey(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                      ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoDeleteApiKey(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoDeleteApiKey(const ApiRequest& req) {
  if (!MayManageKeys(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t id, KeyIdParam(req));
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("DELETE FROM api_keys WHERE tn_id = $1 AND key_id = $2",
                                                 {db::P(req.ctx().tn_id()), db::P(id)}));
  if (r.affected == 0) return rpc::NotFoundError("API key not found");
  Publish(cache::ApiKeysInvalidation(req.ctx().tn_id()));
  ApiReply reply;
  reply.set_data_json("null");
  return reply;
}

}  // namespace cloudillo::access
