// QR login (PROTOCOL §3.7): a device that cannot log in by itself shows a QR code; a
// logged-in session of the same tenant reads it, sees where the request comes from and
// approves or denies; the waiting device, long-polling its status, then receives a
// login. Sessions live in Redis, so any replica serves any step; for 300 s; the secret
// only hashed. An approval is handed out once, to the first poll that reads it. The
// waiting poll holds no thread anywhere: this service answers "pending" with a
// WaitPolicy, the gateway holds the request until the approval's wake-up arrives.
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "access_service.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/random.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/core/utf8.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/rpc/api.h"

namespace cloudillo::access {
namespace {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;
using json = nlohmann::json;

constexpr int kSessionSeconds = 300;
constexpr int kDefaultWaitSeconds = 15;
constexpr int kMaxWaitSeconds = 30;
constexpr size_t kMaxUserAgent = 512;

constexpr char kCreate[] = R"lua(
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'status', 'pending', 'ua', ARGV[2], 'ip', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
)lua";

// Reads an answered session and deletes it in one step: one poll gets the login.
constexpr char kTakeAnswer[] = R"lua(
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'approved' or s == 'denied' then
  local login = redis.call('HGET', KEYS[1], 'login')
  redis.call('DEL', KEYS[1])
  return {s, login or ''}
end
return {s or '', ''}
)lua";

// Answers a pending session, once.
constexpr char kAnswer[] = R"lua(
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'login', ARGV[2])
return 1
)lua";

std::string SecretHash(std::string_view secret) { return Base64UrlEncode(crypto::Sha256(secret)); }

absl::Status Unavailable() {
  return rpc::ApiError(absl::StatusCode::kUnavailable, "E-SYS-UNAVAIL", "login sessions unavailable");
}

// What a client sent as text, fit for JSON (the user agent arrives as raw bytes).
json Text(const std::string& s) {
  if (s.empty()) return nullptr;
  return IsValidUtf8(s) ? json(s) : json(std::string("(not UTF-8)"));
}

std::vector<std::string> Eval(const char* script, const std::string& key, std::vector<std::string> args) {
  std::vector<std::string> cmd{"EVAL", script, "1", key};
  cmd.insert(cmd.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  return cmd;
}

}  // namespace

absl::StatusOr<json> AccessService::CreateQrSession(const cloudillo::v1::RequestContext& ctx) {
  std::string session = Base64UrlEncode(RandomBytes(16));
  std::string secret = Base64UrlEncode(RandomBytes(32));
  std::string ua = ctx.user_agent().substr(0, kMaxUserAgent);
  auto created =
      redis_->Command(Eval(kCreate, cache::QrSessionTag(ctx.tn_id(), session),
                           {SecretHash(secret), ua, ctx.client_ip(), std::to_string(kSessionSeconds)}));
  if (!created.ok()) return Unavailable();
  return json{{"sessionId", session}, {"secret", secret}};
}

absl::StatusOr<ApiReply> AccessService::DoQrLoginInit(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(json session, CreateQrSession(req.ctx()));
  ApiReply reply = rpc::Data(session);
  reply.set_http_status(201);
  return reply;
}

absl::StatusOr<ApiReply> AccessService::DoQrLoginStatus(const ApiRequest& req) {
  auto secret = req.headers().find("x-qr-secret");
  if (secret == req.headers().end() || secret->second.empty())
    return rpc::Unauthorized("X-QR-Secret is required");
  std::string key = cache::QrSessionTag(req.ctx().tn_id(), rpc::PathParam(req, "id"));
  auto got = redis_->Command({"HMGET", key, "secret", "status"});
  if (!got.ok() || got->type != cache::Reply::Type::kArray || got->elements.size() != 2) return Unavailable();
  const cache::Reply& stored = got->elements[0];
  // Unknown, expired, already taken or a wrong secret all look alike.
  if (stored.type != cache::Reply::Type::kString ||
      !crypto::ConstantTimeEqual(stored.str, SecretHash(secret->second))) {
    return rpc::NotFoundError();
  }
  if (got->elements[1].str == "pending") {
    auto ttl = redis_->Command({"PTTL", key});
    int wait_s = kDefaultWaitSeconds;
    if (const std::string& t = rpc::QueryParam(req, "timeout"); !t.empty()) {
      if (!absl::SimpleAtoi(AV(t), &wait_s) || wait_s < 0)
        return rpc::BadRequest("timeout must be a number of seconds");
    }
    int64_t wait_ms = std::min<int64_t>(std::min(wait_s, kMaxWaitSeconds) * 1000LL,
                                        ttl.ok() && ttl->integer > 0 ? ttl->integer : 0);
    ApiReply reply = rpc::Data(json{{"status", "pending"}});
    if (wait_ms > 0) {
      reply.mutable_wait()->set_tag(key);
      reply.mutable_wait()->set_max_wait_ms(int32_t(wait_ms));
    }
    return reply;
  }
  auto taken = redis_->Command(Eval(kTakeAnswer, key, {}));
  if (!taken.ok() || taken->type != cache::Reply::Type::kArray || taken->elements.size() != 2)
    return Unavailable();
  const std::string& status = taken->elements[0].str;
  if (status == "approved") {
    json login = json::parse(taken->elements[1].str, nullptr, false);
    if (login.is_discarded()) return absl::InternalError("stored QR login is not JSON");
    return rpc::Data(json{{"status", "approved"}, {"login", login}});
  }
  if (status == "denied") return rpc::Data(json{{"status", "denied"}});
  return rpc::NotFoundError();  // another poll took it, or it just expired
}

absl::StatusOr<ApiReply> AccessService::DoQrLoginDetails(const ApiRequest& req) {
  if (!rpc::IsOwner(req.ctx())) return rpc::Forbidden();
  auto got = redis_->Command(
      {"HMGET", cache::QrSessionTag(req.ctx().tn_id(), rpc::PathParam(req, "id")), "ua", "ip"});
  if (!got.ok() || got->type != cache::Reply::Type::kArray || got->elements.size() != 2) return Unavailable();
  if (got->elements[1].type != cache::Reply::Type::kString) return rpc::NotFoundError();
  return rpc::Data(
      json{{"userAgent", Text(got->elements[0].str)}, {"ipAddress", Text(got->elements[1].str)}});
}

absl::StatusOr<ApiReply> AccessService::DoQrLoginRespond(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  auto approved = body.find("approved");
  if (approved == body.end() || !approved->is_boolean())
    return rpc::BadRequest("body must be {\"approved\": boolean}");
  std::string key = cache::QrSessionTag(ctx.tn_id(), rpc::PathParam(req, "id"));
  auto status = redis_->Command({"HGET", key, "status"});
  if (!status.ok()) return Unavailable();
  if (status->type != cache::Reply::Type::kString) return rpc::NotFoundError();
  if (status->str != "pending") return rpc::BadRequest("Session already responded");
  std::string login;
  if (approved->get<bool>()) {
    CL_ASSIGN_OR_RETURN(login, LoginJson(ctx));
  }
  auto answered = redis_->Command(Eval(kAnswer, key, {approved->get<bool>() ? "approved" : "denied", login}));
  if (!answered.ok()) return Unavailable();
  if (answered->integer != 1) return rpc::BadRequest("Session already responded");
  Publish(cache::WakeMessage(key));
  return rpc::Data(json{{"status", approved->get<bool>() ? "approved" : "denied"}});
}

grpc::ServerUnaryReactor* AccessService::QrLoginInit(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                     ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoQrLoginInit(*req); });
}

grpc::ServerUnaryReactor* AccessService::QrLoginStatus(grpc::CallbackServerContext* ctx,
                                                       const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoQrLoginStatus(*req); });
}

grpc::ServerUnaryReactor* AccessService::QrLoginDetails(grpc::CallbackServerContext* ctx,
                                                        const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoQrLoginDetails(*req); });
}

grpc::ServerUnaryReactor* AccessService::QrLoginRespond(grpc::CallbackServerContext* ctx,
                                                        const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoQrLoginRespond(*req); });
}

}  // namespace cloudillo::access
