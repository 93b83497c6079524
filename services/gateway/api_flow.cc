#include "api_flow.h"

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include "absl/strings/str_split.h"
#include "client_limits.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/utf8.h"
#include "cloudillo/rpc/status.h"
#include "envelope.h"
#include "gateway.h"
#include "grpc_bytes.h"
#include "stream_bridge.h"

namespace cloudillo::gateway {
namespace {

http::Response Forbidden() {
  return ErrorResponse(403, "E-AUTH-NOPERM", "You do not have permission to access this resource");
}
http::Response Unavailable() {
  return ErrorResponse(503, "E-SYS-UNAVAIL", "Service temporarily unavailable");
}

// Query parameters, decoded; a malformed escape is an error (400).
std::optional<std::map<std::string, std::string>> ParseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  for (absl::string_view part : absl::StrSplit(AV(query), '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    auto key = PercentDecode(SV(part.substr(0, eq)), true);
    auto value = PercentDecode(eq == absl::string_view::npos ? "" : SV(part.substr(eq + 1)), true);
    if (!key || !value) return std::nullopt;
    out.emplace(*key, *value);  // the first occurrence wins
  }
  return out;
}

struct UnaryCall {
  grpc::ClientContext ctx;
  grpc::ByteBuffer request, reply;
};

}  // namespace

http::Response FromGrpcError(const grpc::Status& st) {
  cloudillo::v1::ErrorInfo info = rpc::ErrorInfoOf(st);
  WireError def = WireErrorFor(st.error_code());
  int status = info.http_status() != 0 ? info.http_status() : def.http_status;
  std::string code = info.code().empty() ? def.code : info.code();
  // Internal details stay in the logs, not in answers.
  std::string message = status >= 500 ? "Internal server error" : st.error_message();
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE) message = "Service temporarily unavailable";
  return ErrorResponse(status, code, message, info.details_json());
}

http::Response FromApiReply(const cloudillo::v1::ApiReply& reply, const std::string& req_id) {
  http::Response res;
  res.status = reply.http_status() != 0 ? reply.http_status() : 200;
  for (const auto& [k, v] : reply.headers()) res.Set(k, v);
  if (!reply.empty_body()) {
    res.Set("Content-Type", "application/json");
    res.body = reply.raw() ? reply.data_json() : SuccessBody(reply.data_json(), reply.extra_json(), req_id);
  }
  return res;
}

http::Response FromKeptDownload(std::shared_ptr<const cloudillo::v1::ApiReply> kept) {
  http::Response res;
  res.status = 200;
  for (const auto& [k, v] : kept->headers()) res.Set(k, v);
  // The bytes are sent from the cache entry itself, which lives until the write is done.
  res.shared_body = std::shared_ptr<const std::string>(kept, &kept->data_json());
  return res;
}

namespace {

http::WebSocketOptions SocketOptionsOf(const Route& route) {
  http::WebSocketOptions o;
  if (!IsSocket(route.kind)) return o;
  o.max_message = route.body_limit;
  if (route.ping_seconds > 0) o.ping_interval = absl::Seconds(route.ping_seconds);
  return o;
}

}  // namespace

ApiFlow::ApiFlow(Gateway& gw, std::shared_ptr<http::Exchange> ex, std::string id_tag, std::string req_id,
                 absl::Time start)
    : gw_(gw), ex_(std::move(ex)), id_tag_(std::move(id_tag)), req_id_(std::move(req_id)), start_(start) {}

void ApiFlow::Resume(std::function<void()> fn) {
  ex_->Post([self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

void ApiFlow::Answer(http::Response res) {
  if (answered_) return;
  answered_ = true;
  DecorateApiResponse(res, ex_->request(), req_id_, match_.path_known);
  int route = match_.route
                  ? match_.index
                  : GatewayMetrics::SpecialRoute(match_.path_known ? GatewayMetrics::kMethodNotAllowed
                                                                   : GatewayMetrics::kUnrouted);
  gw_.Complete(ex_, std::move(res), route, req_id_, tenant_.id_tag.empty() ? id_tag_ : tenant_.id_tag,
               start_);
}

void ApiFlow::Start() {
  const http::Request& req = ex_->request();
  bool preflight = req.method == "OPTIONS";
  match_ = gw_.routes_.Match(preflight ? req.Header("access-control-request-method") : req.method, req.path);
  if (preflight) {
    if (!match_.path_known) return Answer(ErrorResponse(404, "E-CORE-NOTFOUND", "Not found"));
    answered_ = true;
    http::Response res = PreflightResponse(req, req_id_);
    DecorateApiResponse(res, req, req_id_);
    return gw_.Complete(ex_, std::move(res), GatewayMetrics::SpecialRoute(GatewayMetrics::kPreflight),
                        req_id_, "", start_);
  }
  if (!match_.route) {
    if (match_.bad_param) return Answer(ErrorResponse(400, "E-VAL-INVALID", "Malformed path parameter"));
    if (match_.path_known) return Answer(ErrorResponse(405, "E-VAL-INVALID", "Method not allowed here"));
    return Answer(ErrorResponse(404, "E-CORE-NOTFOUND", "Not found"));
  }
  const Route& route = *match_.route;
  if (IsSocket(route.kind) && !req.websocket_upgrade) {
    return Answer(ErrorResponse(400, "E-VAL-INVALID", "A WebSocket upgrade is required here"));
  }
  if (!IsSocket(route.kind) && req.websocket_upgrade) {
    return Answer(ErrorResponse(404, "E-CORE-NOTFOUND", "No such WebSocket endpoint"));
  }
  ip_ = gw_.ClientIp(req);
  if (auto a = cache::ClientAddress::Parse(ip_); a.ok()) addr_ = *a;
  CheckAddress();
}

void ApiFlow::CheckAddress() {
  if (addr_) {
    http::Response denial;
    auto self = shared_from_this();
    switch (gw_.limits_->CheckAddress(*match_.route, *addr_, &denial,
                                      [self] { self->Resume([self] { self->CheckAddress(); }); })) {
      case Limits::Verdict::kPending:
        return;
      case Limits::Verdict::kDenied:
        return Answer(std::move(denial));
      case Limits::Verdict::kPass:
        break;
    }
  }
  ResolveTenant();
}

void ApiFlow::ResolveTenant() {
  if (auto hit = gw_.directory_.TryTenant(id_tag_)) {
    gw_.metrics_->CacheLookup(GatewayMetrics::kTenantCache, true);
    return OnTenant(*hit);
  }
  gw_.metrics_->CacheLookup(GatewayMetrics::kTenantCache, false);
  if (addr_) {
    if (auto limited = gw_.limits_->ChargeLookup(*addr_)) return Answer(std::move(*limited));
  }
  auto self = shared_from_this();
  gw_.directory_.FetchTenant(id_tag_, [self](absl::StatusOr<std::optional<TenantInfo>> t) {
    self->Resume([self, t = std::move(t)] { self->OnTenant(t); });
  });
}

void ApiFlow::OnTenant(absl::StatusOr<std::optional<TenantInfo>> tenant) {
  if (!tenant.ok()) return Answer(Unavailable());
  if (!tenant->has_value() || !(**tenant).active) return Answer(Forbidden());
  tenant_ = **tenant;
  Authenticate();
}

void ApiFlow::Authenticate() {
  if (match_.route->auth == AuthMode::kIgnore) return Authenticated({{}, AuthProblem::kMissing, ""});
  bearer_ = ExtractBearer(ex_->request());
  if (bearer_.kind == Bearer::kNone)
    return Authenticated({{}, AuthProblem::kMissing, "authentication required"});
  auto self = shared_from_this();
  if (bearer_.kind == Bearer::kApiKey) {
    if (auto hit = gw_.directory_.TryApiKey(tenant_.tn_id, bearer_.value)) {
      gw_.metrics_->CacheLookup(GatewayMetrics::kApiKeyCache, true);
      return OnApiKey(*hit);
    }
    gw_.metrics_->CacheLookup(GatewayMetrics::kApiKeyCache, false);
    if (addr_) {
      if (auto limited = gw_.limits_->ChargeLookup(*addr_)) return Answer(std::move(*limited));
    }
    return gw_.directory_.FetchApiKey(tenant_.tn_id, bearer_.value,
                                      [self](absl::StatusOr<std::optional<ApiKeyInfo>> k) {
                                        self->Resume([self, k = std::move(k)] { self->OnApiKey(k); });
                                      });
  }
  if (auto hit = gw_.directory_.TrySecrets(tenant_.tn_id)) {
    gw_.metrics_->CacheLookup(GatewayMetrics::kSecretsCache, true);
    return OnSecrets(*hit, false);
  }
  gw_.metrics_->CacheLookup(GatewayMetrics::kSecretsCache, false);
  gw_.directory_.FetchSecrets(tenant_.tn_id, [self](absl::StatusOr<Secrets> s) {
    self->Resume([self, s = std::move(s)] { self->OnSecrets(s, false); });
  });
}

void ApiFlow::OnSecrets(absl::StatusOr<Secrets> secrets, bool refreshed) {
  if (!secrets.ok())
    return Authenticated({{}, AuthProblem::kUnavailable, std::string(secrets.status().message())});
  bool unknown_kid = false;
  AuthResult auth = AuthenticateJwt(*secrets, tenant_, bearer_, ex_->request(), absl::Now(), &unknown_kid,
                                    &gw_.verified_tokens_);
  if (unknown_kid && !refreshed) {
    // A secret made since we cached this tenant's (another replica rotated it): look once more.
    auto self = shared_from_this();
    bool started = gw_.directory_.RefreshSecrets(tenant_.tn_id, [self](absl::StatusOr<Secrets> s) {
      self->Resume([self, s = std::move(s)] { self->OnSecrets(s, true); });
    });
    if (started) return;
  }
  Authenticated(std::move(auth));
}

void ApiFlow::OnApiKey(absl::StatusOr<std::optional<ApiKeyInfo>> key) {
  if (!key.ok()) return Authenticated({{}, AuthProblem::kUnavailable, std::string(key.status().message())});
  Authenticated(AuthenticateApiKey(*key, tenant_, ex_->request(), absl::Now()));
}

void ApiFlow::Authenticated(AuthResult auth) {
  const Route& route = *match_.route;
  if (auth.problem == AuthProblem::kUnavailable) return Answer(Unavailable());
  if (auth.problem == AuthProblem::kNone) {
    caller_ = std::move(auth.caller);
    // Only a request that proved it acts for this tenant spends the tenant's budget.
    if (auto limited = gw_.limits_->ChargeTenant(tenant_)) return Answer(std::move(*limited));
    return CallBackend();
  }
  // Anonymous from here on: routes without a bucket of their own are limited per address.
  if (!route.bucket && addr_) {
    if (auto limited = gw_.limits_->ChargeAnonymous(*addr_)) return Answer(std::move(*limited));
  }
  if (route.auth == AuthMode::kRequired) {
    if (auth.problem == AuthProblem::kBadToken)
      return Answer(ErrorResponse(401, "E-AUTH-UNAUTH", "Unauthorized"));
    return Answer(Forbidden());
  }
  CallBackend();
}

std::optional<http::Response> ApiFlow::BuildApiRequest(cloudillo::v1::ApiRequest* api) {
  const http::Request& req = ex_->request();
  auto* ctx = api->mutable_ctx();
  ctx->set_tn_id(tenant_.tn_id);
  ctx->set_id_tag(tenant_.id_tag);
  ctx->set_authenticated(caller_.authenticated);
  ctx->set_subject(caller_.subject);
  ctx->set_roles(caller_.roles);
  ctx->set_scope(caller_.scope);
  ctx->set_has_sub(caller_.has_sub);
  ctx->set_auth_kind(caller_.kind);
  ctx->set_api_key_id(caller_.api_key_id);
  ctx->set_request_id(req_id_);
  ctx->set_client_ip(ip_);
  ctx->set_user_agent(req.Header("user-agent"));
  // Every routed parameter is text: refuse escapes that decode to invalid UTF-8 here,
  // once, rather than in each service.
  for (auto& [k, v] : match_.params) {
    if (!IsValidUtf8(v)) return ErrorResponse(400, "E-VAL-INVALID", "Path parameter is not valid UTF-8");
    (*api->mutable_path())[k] = v;
  }
  auto query = ParseQuery(req.query);
  if (!query) return ErrorResponse(400, "E-VAL-INVALID", "Malformed query string");
  for (auto& [k, v] : *query) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v))
      return ErrorResponse(400, "E-VAL-INVALID", "Query is not valid UTF-8");
    (*api->mutable_query())[k] = v;
  }
  if (match_.route->kind == RouteKind::kUnary && !req.body.empty()) {
    const std::string& ct = req.Header("content-type");
    if (ct.compare(0, 16, "application/json") != 0) {
      return ErrorResponse(415, "E-VAL-INVALID", "Content-Type must be application/json");
    }
    api->set_body(req.body);
  }
  for (const char* h : {"if-none-match", "accept-language", "content-type", "range", "if-range",
                        "x-qr-secret", "content-length"}) {
    if (const std::string& v = req.Header(h); !v.empty()) (*api->mutable_headers())[h] = v;
  }
  return std::nullopt;
}

void ApiFlow::CallBackend() {
  const Route& route = *match_.route;
  // Usage for the admin API: every request this tenant's API served past the checks.
  if (!counted_) gw_.usage_.Add(tenant_.tn_id, cache::kUsageRequests);
  counted_ = true;
  // A GET the service marked reusable may be answered from memory (reply_cache.h),
  // before building the call: only a request that once passed every check below with
  // the same key put the entry there.
  if (route.kind == RouteKind::kUnary && ex_->request().method == "GET" && ex_->request().body.empty()) {
    cache_key_ = CacheKey();
    auto hit = gw_.replies_.Find(cache_key_, tenant_.tn_id, absl::Now());
    gw_.metrics_->CacheLookup(GatewayMetrics::kReplyCache, hit != nullptr);
    if (hit) return Answer(FromApiReply(*hit, req_id_));
    cache_generation_ = gw_.replies_.Generation();
  }
  // A whole file blob marked reusable for this caller (download cache, gateway.h). A
  // range is always asked of blob.
  std::optional<uint64_t> download_generation;
  // Set when this request refills the entry: whatever ends the fetch (kept, not kept, an
  // error before the call) calls EndFill, and the waiters look again.
  std::shared_ptr<void> fill_end;
  if (route.kind == RouteKind::kDownload && ex_->request().method == "GET" &&
      ex_->request().Header("range").empty() && ex_->request().Header("if-range").empty()) {
    cache_key_ = CacheKey();
    auto hit = gw_.downloads_.Find(cache_key_, tenant_.tn_id, absl::Now());
    gw_.metrics_->CacheLookup(GatewayMetrics::kDownloadCache, hit != nullptr);
    if (hit) return Answer(FromKeptDownload(std::move(hit)));
    if (gw_.config_.download_cache_bytes > 0) {
      if (!gw_.BeginFill(cache_key_)) {
        if (AwaitFill()) return;
      } else {
        fill_end = std::shared_ptr<void>(nullptr, [gw = &gw_, key = cache_key_](void*) { gw->EndFill(key); });
      }
    }
    download_generation = gw_.downloads_.Generation();
  }
  cloudillo::v1::ApiRequest api;
  if (auto bad = BuildApiRequest(&api)) return Answer(std::move(*bad));
  grpc::GenericStub* stub = gw_.Stub(route.backend);
  if (!stub) return Answer(Unavailable());
  auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(gw_.config_.rpc_timeout_ms);
  if (route.kind == RouteKind::kUpload || route.kind == RouteKind::kDownload) {
    // A large body takes longer than any unary call; a stalled one is cut by the
    // HTTP side's idle timeout long before this.
    deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(gw_.config_.stream_timeout_ms);
  }
  if (route.kind != RouteKind::kUnary) {
    answered_ = true;  // the bridge answers from here on
    auto self = shared_from_this();
    // A socket lives for hours: its end is logged from a copy of what the log needs, so
    // that neither this flow nor the upgrade's HTTP session is kept alive with it.
    const http::Request& req = ex_->request();
    http::Request logged;
    logged.method = req.method;
    logged.path = req.path;
    logged.query = req.query;
    logged.client_ip = req.client_ip;
    StreamTarget target{
        ex_,
        stub,
        route.rpc,
        req_id_,
        deadline,
        [self](http::Response res) {
          self->answered_ = false;
          self->Answer(std::move(res));
        },
        [gw = &gw_, logged = std::move(logged), route_index = match_.index, req_id = req_id_,
         tenant = tenant_.id_tag, start = start_](int status) {
          gw->Record(logged, http::Response{status, {}, "", ""}, route_index, req_id, tenant, start);
        },
        SocketOptionsOf(route)};
    if (download_generation && gw_.config_.download_cache_bytes > 0) {
      target.keep_limit = std::min(Gateway::kMaxKeptDownload, gw_.config_.download_cache_bytes);
      target.keep = [gw = &gw_, key = cache_key_, tn_id = tenant_.tn_id,
                     generation = *download_generation](cloudillo::v1::ApiReply reply) {
        gw->downloads_.Store(key, tn_id, reply, generation, absl::Now());
      };
      // The bridge drops its copy of `settled` when it knows the answer will not be kept
      // (a head that is not reusable or too long), or after keeping it: the waiters
      // need not wait for a long download to end.
      target.settled = std::move(fill_end);
    }
    switch (route.kind) {
      case RouteKind::kUpload:
        return StartUpload(std::move(target), std::move(api));
      case RouteKind::kDownload:
        return StartDownload(std::move(target), std::move(api));
      case RouteKind::kWebSocket:
        return StartSocket(std::move(target), std::move(api));
      case RouteKind::kMuxedSocket:
        return gw_.sockets_.Start(std::move(target), std::move(api));
      case RouteKind::kUnary:
        break;
    }
    return;
  }
  auto call = std::make_shared<UnaryCall>();
  call->ctx.set_deadline(deadline);
  call->request = ToBytes(api);
  auto self = shared_from_this();
  stub->UnaryCall(&call->ctx, route.rpc, grpc::StubOptions(), &call->request, &call->reply,
                  [self, call](grpc::Status st) {
                    self->Resume([self, call, st] { self->OnUnaryReply(st, call->reply); });
                  });
}

bool ApiFlow::AwaitFill() {
  if (fill_waited_) return false;
  fill_waited_ = true;
  auto self = shared_from_this();
  auto settled = std::make_shared<std::atomic<bool>>(false);
  const std::string key = cache_key_;
  uint64_t id = gw_.fill_waiters_.Add(key, [self, settled] {
    if (!settled->exchange(true)) self->Resume([self] { self->CallBackend(); });
  });
  if (id == 0) return false;
  // The fetch may have ended between BeginFill and Add: its wake-up was missed.
  if (!gw_.Filling(key)) {
    gw_.fill_waiters_.Cancel(key, id);
    if (settled->exchange(true)) return true;  // woken after all: CallBackend is queued
    Resume([self] { self->CallBackend(); });
    return true;
  }
  ex_->PostAfter(Gateway::kMaxFillWait, [self, settled, key, id] {
    if (settled->exchange(true)) return;
    self->gw_.fill_waiters_.Cancel(key, id);
    self->CallBackend();
  });
  return true;
}

// A provisional answer (a long-poll): hold the request, without a thread, until the
// tag is woken from any replica or the wait is over, then ask the service once more
// and answer with that. False when too many requests are held: the provisional answer
// goes out at once and the client simply polls again.
bool ApiFlow::Hold(const cloudillo::v1::WaitPolicy& wait) {
  waited_ = true;
  auto self = shared_from_this();
  auto settled = std::make_shared<std::atomic<bool>>(false);
  std::string tag = wait.tag();
  uint64_t id = gw_.waiters_.Add(tag, [self, settled] {
    if (!settled->exchange(true)) self->Resume([self] { self->CallBackend(); });
  });
  if (id == 0) return false;
  ex_->PostAfter(absl::Milliseconds(std::min(wait.max_wait_ms(), Gateway::kMaxWaitMs)),
                 [self, settled, tag, id] {
                   if (settled->exchange(true)) return;
                   self->gw_.waiters_.Cancel(tag, id);
                   self->CallBackend();
                 });
  return true;
}

std::string ApiFlow::CacheKey() const {
  const http::Request& req = ex_->request();
  std::string key;
  key.reserve(128 + req.query.size());
  auto field = [&](std::string_view v) {
    key += std::to_string(v.size());  // length-prefixed: no value can imitate a boundary
    key += ':';
    key += v;
  };
  field(std::to_string(match_.index));
  field(std::to_string(tenant_.tn_id));
  field(req.path);  // the route's parameters
  field(req.query);
  field(req.Header("if-none-match"));
  field(req.Header("accept-language"));
  field(caller_.kind);
  field(caller_.subject);
  field(caller_.roles);
  field(caller_.scope);
  field(std::to_string(caller_.api_key_id));
  field(caller_.has_sub ? "1" : "0");
  return key;
}

void ApiFlow::OnUnaryReply(const grpc::Status& st, const grpc::ByteBuffer& reply) {
  if (!st.ok()) {
    if (WireErrorFor(st.error_code()).http_status >= 500) {
      LogWarn("backend_error", {{"reqId", req_id_},
                                {"rpc", match_.route->rpc},
                                {"code", int(st.error_code())},
                                {"error", st.error_message()}});
    }
    http::Response res = FromGrpcError(st);
    int delay_ms = rpc::ErrorInfoOf(st).answer_delay_ms();
    if (delay_ms > 0) {
      // A failed login's delay: a timer, not a sleeping thread.
      auto self = shared_from_this();
      ex_->PostAfter(absl::Milliseconds(std::min(delay_ms, 10000)),
                     [self, res = std::move(res)]() mutable { self->Answer(std::move(res)); });
      return;
    }
    return Answer(std::move(res));
  }
  cloudillo::v1::ApiReply parsed;
  if (!FromBytes(reply, &parsed))
    return Answer(ErrorResponse(500, "E-CORE-INTERNAL", "Internal server error"));
  if (parsed.has_wait() && !waited_ && !parsed.wait().tag().empty() && parsed.wait().max_wait_ms() > 0 &&
      Hold(parsed.wait())) {
    return;
  }
  if (!cache_key_.empty() && parsed.has_cache()) {
    gw_.replies_.Store(cache_key_, tenant_.tn_id, parsed, cache_generation_, absl::Now());
  } else if (ex_->request().method != "GET" && ex_->request().method != "HEAD") {
    gw_.replies_.TenantChanged(tenant_.tn_id);  // a write went through: no stale reads here
    gw_.downloads_.TenantChanged(tenant_.tn_id);
  }
  Answer(FromApiReply(parsed, req_id_));
}

}  // namespace cloudillo::gateway
