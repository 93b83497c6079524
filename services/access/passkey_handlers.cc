// Passkeys (PROTOCOL §3.7): enrolment by the owner, login by anyone holding one.
// Options follow what the web client hands to @simplewebauthn/browser (the inner
// `publicKey` object of webauthn-rs' challenge responses); answers follow the reference
// (crates/cloudillo-auth/src/webauthn.rs): credentials as {credentialId, description},
// login as the password login's object.
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "access_service.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/random.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/jws.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/server.h"
#include "webauthn.h"

namespace cloudillo::access {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr int64_t kChallengeLifetime = 120;  // seconds, as the reference
constexpr int kMaxPasskeys = 32;             // keeps login-init's options small
constexpr size_t kMaxDescription = 200;
constexpr char kReg[] = "reg";
constexpr char kLogin[] = "login";

bool MayManagePasskeys(const cloudillo::v1::RequestContext& ctx) {
  // A session of the owner; an API key may not enrol a way to log in.
  return rpc::IsOwner(ctx) && ctx.auth_kind() == "token";
}

// Verification failures: malformed input is a 400, anything refused a 403.
absl::Status ToApi(const absl::Status& st) {
  if (st.ok()) return st;
  if (st.code() == absl::StatusCode::kInvalidArgument) return rpc::BadRequest(std::string(st.message()));
  if (st.code() == absl::StatusCode::kPermissionDenied) return rpc::Forbidden(std::string(st.message()));
  return st;
}

// The client sends base64url without padding; padded or standard-alphabet values are
// accepted too, as webauthn-rs accepts them.
absl::StatusOr<std::string> B64Field(const json& obj, const char* name, bool required = true) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (!required) return std::string();
    return rpc::BadRequest(absl::StrFormat("response.%s is required", name));
  }
  if (!it->is_string()) return rpc::BadRequest(absl::StrFormat("response.%s must be a string", name));
  std::string s = it->get<std::string>();
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  auto raw = Base64UrlDecode(s);
  if (!raw.ok()) return rpc::BadRequest(absl::StrFormat("response.%s is not base64url", name));
  return *raw;
}

// The WebAuthn user handle: the tenant number as 16 big-endian bytes (webauthn-rs puts
// a UUID made from it there).
std::string UserHandle(int64_t tn_id) {
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i)
    id[15 - i] = static_cast<char>((static_cast<uint64_t>(tn_id) >> (8 * i)) & 0xff);
  return id;
}

ojson CredentialList(const db::Result& r) {
  ojson arr = ojson::array();
  for (const auto& row : r.rows) arr.push_back({{"type", "public-key"}, {"id", row.Str(0)}});
  return arr;
}

// "<browser> on <os> - YYYY-MM-DD HH:MM UTC", as the reference names a passkey that
// came without a description.
std::string DefaultDescription(std::string_view ua, absl::Time now) {
  auto has = [&](std::string_view s) { return ua.find(s) != std::string_view::npos; };
  const char* browser = has("Firefox")  ? "Firefox"
                        : has("Edg/")   ? "Edge"
                        : has("Chrome") ? "Chrome"
                        : has("Safari") ? "Safari"
                                        : "Browser";
  const char* os = has("Windows")                      ? "Windows"
                   : has("Mac OS") || has("Macintosh") ? "macOS"
                   : has("Linux")                      ? "Linux"
                   : has("Android")                    ? "Android"
                   : has("iPhone") || has("iPad")      ? "iOS"
                                                       : "Unknown";
  return absl::StrFormat("%s on %s - %s", browser, os,
                         absl::FormatTime("%Y-%m-%d %H:%M UTC", now, absl::UTCTimeZone()));
}

webauthn::Expected ExpectedFor(const cloudillo::v1::RequestContext& ctx, const char* type,
                               std::string challenge) {
  return webauthn::Expected{type, std::move(challenge), ctx.id_tag()};
}

}  // namespace

std::string AccessService::ChallengeKey() const { return master_.Derive("access.webauthn.challenge"); }

absl::StatusOr<std::string> AccessService::MintChallenge(const cloudillo::v1::RequestContext& ctx,
                                                         const char* purpose, std::string* challenge) {
  *challenge = Base64UrlEncode(RandomBytes(32));
  json claims = {{"iss", ctx.id_tag()},
                 {"tn", ctx.tn_id()},
                 {"p", purpose},
                 {"ch", *challenge},
                 {"exp", absl::ToUnixSeconds(clock_.Now()) + kChallengeLifetime}};
  return crypto::SignHs256(claims.dump(), ChallengeKey());
}

// The challenge a token carries, once: the token must be ours, unexpired, for this
// tenant and this ceremony, and not used before (Redis remembers used challenges
// for their lifetime, so a captured response cannot be replayed).
absl::StatusOr<std::string> AccessService::OpenChallenge(const cloudillo::v1::RequestContext& ctx,
                                                         const char* purpose, const std::string& token) {
  const std::string key = ChallengeKey();
  auto jws = crypto::VerifyHs256(token, [&](std::string_view kid) -> std::optional<std::string> {
    if (!kid.empty()) return std::nullopt;
    return key;
  });
  if (!jws.ok()) return rpc::Forbidden("invalid challenge token");
  json c = json::parse(jws->payload_json, nullptr, false);
  auto str = [&](const char* k) {
    auto it = c.find(k);
    return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    auto it = c.find(k);
    return it != c.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  if (str("p") != purpose || str("iss") != ctx.id_tag() || num("tn") != ctx.tn_id() || str("ch").empty())
    return rpc::Forbidden("challenge token is for another tenant or ceremony");
  if (num("exp") < absl::ToUnixSeconds(clock_.Now())) return rpc::Forbidden("challenge expired");
  CL_ASSIGN_OR_RETURN(cache::Reply set, redis_->Command({"SET", "wa:used:" + str("ch"), "1", "NX", "EX",
                                                         std::to_string(kChallengeLifetime + 60)}));
  if (set.type == cache::Reply::Type::kNil) return rpc::Forbidden("challenge already used");
  return str("ch");
}

absl::StatusOr<ojson> AccessService::PasskeyLoginOffer(const cloudillo::v1::RequestContext& ctx) {
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("SELECT credential_id FROM webauthn_credentials "
                                                 "WHERE tn_id = $1 ORDER BY created_at, credential_id",
                                                 {db::P(ctx.tn_id())}));
  if (r.empty()) return ojson(nullptr);
  std::string challenge;
  CL_ASSIGN_OR_RETURN(std::string token, MintChallenge(ctx, kLogin, &challenge));
  ojson options;
  options["challenge"] = challenge;
  options["timeout"] = kChallengeLifetime * 1000;
  options["rpId"] = ctx.id_tag();
  options["allowCredentials"] = CredentialList(r);
  options["userVerification"] = "required";
  return ojson{{"options", options}, {"token", token}};
}

ojson AccessService::PasskeyLoginOfferOrNull(const cloudillo::v1::RequestContext& ctx) {
  auto offer = PasskeyLoginOffer(ctx);
  if (offer.ok()) return *std::move(offer);
  LogWarn("passkey_offer_failed", {{"tn_id", ctx.tn_id()}, {"error", std::string(offer.status().message())}});
  return ojson(nullptr);
}

// --- enrolment ---------------------------------------------------------------------

grpc::ServerUnaryReactor* AccessService::PasskeyRegChallenge(grpc::CallbackServerContext* ctx,
                                                             const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoPasskeyRegChallenge(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoPasskeyRegChallenge(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!MayManagePasskeys(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("SELECT credential_id FROM webauthn_credentials "
                                                 "WHERE tn_id = $1 ORDER BY created_at, credential_id",
                                                 {db::P(ctx.tn_id())}));
  std::string challenge;
  CL_ASSIGN_OR_RETURN(std::string token, MintChallenge(ctx, kReg, &challenge));
  ojson params = ojson::array();
  for (int64_t alg : {webauthn::kEs256, webauthn::kEdDsa, webauthn::kRs256})
    params.push_back({{"type", "public-key"}, {"alg", alg}});
  ojson options;
  options["rp"] = {{"name", ctx.id_tag()}, {"id", ctx.id_tag()}};
  options["user"] = {{"id", Base64UrlEncode(UserHandle(ctx.tn_id()))},
                     {"name", ctx.id_tag()},
                     {"displayName", ctx.id_tag()}};
  options["challenge"] = challenge;
  options["pubKeyCredParams"] = params;
  options["timeout"] = kChallengeLifetime * 1000;
  options["excludeCredentials"] = CredentialList(r);
  options["authenticatorSelection"] = {
      {"residentKey", "discouraged"}, {"requireResidentKey", false}, {"userVerification", "required"}};
  options["attestation"] = "none";
  options["extensions"] = {{"credProps", true}};
  return rpc::Data(ojson{{"options", options}, {"token", token}});
}

grpc::ServerUnaryReactor* AccessService::RegisterPasskey(grpc::CallbackServerContext* ctx,
                                                         const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoRegisterPasskey(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoRegisterPasskey(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!MayManagePasskeys(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  auto token = body.find("token");
  auto response = body.find("response");
  if (token == body.end() || !token->is_string() || response == body.end() || !response->is_object())
    return rpc::BadRequest(
        "body must be {\"token\": string, \"response\": object, \"description\"?: string}");
  auto inner = response->find("response");
  if (inner == response->end() || !inner->is_object())
    return rpc::BadRequest("response.response is required");
  std::string description;
  if (auto d = body.find("description"); d != body.end() && !d->is_null()) {
    if (!d->is_string() || d->get_ref<const std::string&>().empty() ||
        d->get_ref<const std::string&>().size() > kMaxDescription)
      return rpc::BadRequest("description must be a string of 1 to 200 bytes");
    description = d->get<std::string>();
  } else {
    description = DefaultDescription(ctx.user_agent(), clock_.Now());
  }
  CL_ASSIGN_OR_RETURN(std::string attestation, B64Field(*inner, "attestationObject"));
  CL_ASSIGN_OR_RETURN(std::string client_data, B64Field(*inner, "clientDataJSON"));
  CL_ASSIGN_OR_RETURN(std::string raw_id, B64Field(*response, "rawId", false));
  CL_ASSIGN_OR_RETURN(std::string challenge, OpenChallenge(ctx, kReg, token->get<std::string>()));
  auto reg =
      webauthn::VerifyRegistration(attestation, client_data, ExpectedFor(ctx, "webauthn.create", challenge));
  if (!reg.ok()) {
    LogInfo("passkey_registration_refused",
            {{"tn_id", ctx.tn_id()}, {"reason", std::string(reg.status().message())}});
    return ToApi(reg.status());
  }
  if (!raw_id.empty() && raw_id != reg->credential_id)
    return rpc::BadRequest("rawId differs from the credential id");
  const std::string cred_id = Base64UrlEncode(reg->credential_id);
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query("INSERT INTO webauthn_credentials (tn_id, credential_id, public_key, alg, sign_count, "
                   "description) SELECT $1, $2, $3, $4, $5, $6 "
                   "WHERE (SELECT count(*) FROM webauthn_credentials WHERE tn_id = $1) < $7 "
                   "ON CONFLICT (tn_id, credential_id) DO NOTHING",
                   {db::P(ctx.tn_id()), db::P(cred_id), db::P(Base64Encode(reg->key.spki_der)),
                    db::P(reg->key.alg), db::P(static_cast<int64_t>(reg->sign_count)), db::P(description),
                    db::P(static_cast<int64_t>(kMaxPasskeys))}));
  if (r.affected == 0) return rpc::Conflict("passkey already registered, or too many passkeys");
  LogInfo("passkey_registered", {{"tn_id", ctx.tn_id()}, {"alg", reg->key.alg}, {"fmt", reg->fmt}});
  ApiReply reply = rpc::Data(ojson{{"credentialId", cred_id}, {"description", description}});
  reply.set_http_status(201);
  return reply;
}

grpc::ServerUnaryReactor* AccessService::ListPasskeys(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                      ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoListPasskeys(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoListPasskeys(const ApiRequest& req) {
  if (!MayManagePasskeys(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("SELECT credential_id, coalesce(description, 'Passkey') "
                                                 "FROM webauthn_credentials WHERE tn_id = $1 "
                                                 "ORDER BY created_at, credential_id",
                                                 {db::P(req.ctx().tn_id())}));
  ojson arr = ojson::array();
  for (const auto& row : r.rows) arr.push_back({{"credentialId", row.Str(0)}, {"description", row.Str(1)}});
  return rpc::Data(arr);
}

grpc::ServerUnaryReactor* AccessService::DeletePasskey(grpc::CallbackServerContext* ctx,
                                                       const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoDeletePasskey(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoDeletePasskey(const ApiRequest& req) {
  if (!MayManagePasskeys(req.ctx())) return rpc::Forbidden();
  auto it = req.path().find("keyId");
  if (it == req.path().end() || it->second.empty() || it->second.size() > 2048)
    return rpc::BadRequest("invalid keyId");
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("DELETE FROM webauthn_credentials WHERE tn_id = $1 AND credential_id = $2",
                                   {db::P(req.ctx().tn_id()), db::P(it->second)}));
  if (r.affected == 0) return rpc::NotFoundError("passkey not found");
  ApiReply reply;
  reply.set_data_json("null");
  return reply;
}

// --- login -------------------------------------------------------------------------

grpc::ServerUnaryReactor* AccessService::PasskeyLoginChallenge(grpc::CallbackServerContext* ctx,
                                                               const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoPasskeyLoginChallenge(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoPasskeyLoginChallenge(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(ojson offer, PasskeyLoginOffer(req.ctx()));
  if (offer.is_null()) return rpc::NotFoundError("no passkeys");
  return rpc::Data(offer);
}

grpc::ServerUnaryReactor* AccessService::PasskeyLogin(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                      ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoPasskeyLogin(*req); });
}

absl::StatusOr<ApiReply> AccessService::DoPasskeyLogin(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  auto token = body.find("token");
  auto response = body.find("response");
  if (token == body.end() || !token->is_string() || response == body.end() || !response->is_object())
    return rpc::BadRequest("body must be {\"token\": string, \"response\": object}");
  auto inner = response->find("response");
  if (inner == response->end() || !inner->is_object())
    return rpc::BadRequest("response.response is required");
  CL_ASSIGN_OR_RETURN(std::string raw_id, B64Field(*response, "rawId", false));
  if (raw_id.empty()) {
    CL_ASSIGN_OR_RETURN(raw_id, B64Field(*response, "id"));
  }
  CL_ASSIGN_OR_RETURN(std::string auth_data, B64Field(*inner, "authenticatorData"));
  CL_ASSIGN_OR_RETURN(std::string client_data, B64Field(*inner, "clientDataJSON"));
  CL_ASSIGN_OR_RETURN(std::string signature, B64Field(*inner, "signature"));
  CL_ASSIGN_OR_RETURN(std::string user_handle, B64Field(*inner, "userHandle", false));
  if (!user_handle.empty() && user_handle != UserHandle(ctx.tn_id()))
    return rpc::Forbidden("passkey belongs to another user");
  CL_ASSIGN_OR_RETURN(std::string challenge, OpenChallenge(ctx, kLogin, token->get<std::string>()));
  const std::string cred_id = Base64UrlEncode(raw_id);
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("SELECT public_key, alg, sign_count FROM webauthn_credentials "
                                   "WHERE tn_id = $1 AND credential_id = $2",
                                   {db::P(ctx.tn_id()), db::P(cred_id)}));
  if (r.empty()) return rpc::Forbidden("unknown passkey");
  auto spki = Base64Decode(r.rows[0].Str(0));
  if (!spki.ok()) return absl::InternalError("stored passkey is unreadable");
  webauthn::PublicKey key{r.rows[0].Int(1), *spki};
  const auto stored = static_cast<uint32_t>(r.rows[0].Int(2));
  auto count = webauthn::VerifyAssertion(auth_data, client_data, signature, key, stored,
                                         ExpectedFor(ctx, "webauthn.get", challenge));
  if (!count.ok()) {
    LogInfo("passkey_login_refused",
            {{"tn_id", ctx.tn_id()}, {"reason", std::string(count.status().message())}});
    return ToApi(count.status());
  }
  // Compare-and-set: of two logins racing with one counter value, one wins.
  CL_ASSIGN_OR_RETURN(
      db::Result u, pool_->Query("UPDATE webauthn_credentials SET sign_count = $3 "
                                 "WHERE tn_id = $1 AND credential_id = $2 AND "
                                 "(sign_count < $3 OR ($3 = 0 AND sign_count = 0))",
                                 {db::P(ctx.tn_id()), db::P(cred_id), db::P(static_cast<int64_t>(*count))}));
  if (u.affected == 0)
    return rpc::Forbidden("signature counter did not increase: possibly a cloned authenticator");
  // The session a password login gives, whatever bearer came along.
  cloudillo::v1::RequestContext session = ctx;
  session.set_auth_kind("");
  session.set_scope("");
  session.set_api_key_id(0);
  CL_ASSIGN_OR_RETURN(std::string login, LoginJson(session));
  LogInfo("login", {{"tn_id", ctx.tn_id()}, {"ip", ctx.client_ip()}, {"method", "passkey"}});
  ApiReply reply;
  reply.set_data_json(login);
  return reply;
}

}  // namespace cloudillo::access
