#include "gateway.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "auth_filter.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/utf8.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/rpc/status.h"
#include "envelope.h"

namespace cloudillo::gateway {

struct GatewayMetrics {
  explicit GatewayMetrics(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("cloudillo_http_requests_total")
                     .Help("HTTP requests by route, method and status")
                     .Register(r)),
        errors(prometheus::BuildCounter()
                   .Name("cloudillo_http_errors_total")
                   .Help("HTTP error answers by wire error code")
                   .Register(r)),
        latency(prometheus::BuildHistogram()
                    .Name("cloudillo_http_request_duration_seconds")
                    .Help("HTTP request latency by route")
                    .Register(r)),
        in_flight(prometheus::BuildGauge()
                      .Name("cloudillo_http_in_flight")
                      .Help("HTTP requests being handled")
                      .Register(r)
                      .Add({})) {}
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Gauge& in_flight;
};

namespace {

using json = nlohmann::json;

const prometheus::Histogram::BucketBoundaries& Buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return b;
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

std::string RedactedTarget(const http::Request& req) {
  if (req.query.empty()) return req.path;
  std::string out = req.path + "?";
  bool first = true;
  for (absl::string_view part : absl::StrSplit(AV(req.query), '&')) {
    if (!first) out += '&';
    first = false;
    if (part.substr(0, 6) == "token=" || part.substr(0, 7) == "apiKey=") {
      out += std::string(part.substr(0, part.find('=') + 1)) + "REDACTED";
    } else {
      out += std::string(part);
    }
  }
  return out;
}

// The 429 of PROTOCOL Appendix D item 29.
http::Response RateLimited(const cache::Decision& d) {
  json details = {{"level", d.level}, {"retryAfter", d.retry_after_secs}};
  http::Response res =
      ErrorResponse(429, "E-RATE-LIMITED", "Too many requests. Please slow down.", details.dump());
  res.Set("Retry-After", std::to_string(d.retry_after_secs));
  res.Set("X-RateLimit-Level", d.level);
  return res;
}

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

}  // namespace

Gateway::Gateway(GatewayConfig config, Backends backends, std::shared_ptr<cache::Redis> redis,
                 std::shared_ptr<prometheus::Registry> registry, const Clock& clock)
    : config_(std::move(config)),
      backends_(std::move(backends)),
      redis_(std::move(redis)),
      limiter_(redis_),
      clock_(clock),
      directory_(backends_, absl::Milliseconds(config_.rpc_timeout_ms), clock),
      static_files_(config_.web_root),
      metrics_(std::make_unique<GatewayMetrics>(*registry)) {}

Gateway::~Gateway() = default;

size_t Gateway::BodyLimit(const http::Request& head) const {
  // Nothing routed today takes more than a JSON body; uploads and the inbox will
  // raise their own routes' limits here.
  return config_.max_body_bytes;
}

http::Response Gateway::BadRequest(int status, const std::string& reason) {
  metrics_->errors.Add({{"code", "E-VAL-INVALID"}}).Increment();
  std::string message = status == 413   ? "Request body too large"
                        : status == 431 ? "Request header fields too large"
                                        : "Malformed HTTP request";
  http::Response res = ErrorResponse(status, "E-VAL-INVALID", message);
  res.Set("Connection", "close");
  return res;
}

http::Response Gateway::WebSocketCheck(const http::Request& req) {
  // WebSocket routes (/ws/crdt, /ws/rtdb, /ws/bus) arrive with the collab and action
  // services; until then every upgrade is answered like an unknown route.
  return ErrorResponse(404, "E-CORE-NOTFOUND", "No such WebSocket endpoint");
}

http::ServerOptions Gateway::ServerOptions(int port, bool tls) {
  http::ServerOptions o;
  o.address = config_.listen_address;
  o.port = port;
  o.threads = config_.threads;
  o.header_limit = config_.max_header_bytes;
  if (tls) {
    o.tls_cert_file = config_.tls_cert_file;
    o.tls_key_file = config_.tls_key_file;
  }
  o.max_body_limit = config_.max_body_bytes;
  o.body_limit = [this](const http::Request& head) { return BodyLimit(head); };
  o.handler = [this](const http::Request& req) { return Handle(req); };
  o.on_bad_request = [this](int status, const std::string& reason) { return BadRequest(status, reason); };
  o.websocket_check = [this](const http::Request& req) { return WebSocketCheck(req); };
  return o;
}

std::string Gateway::ClientIp(const http::Request& req) const {
  for (const auto& net : config_.trusted_proxies) {
    if (!net.Contains(req.client_ip)) continue;
    // Behind a trusted proxy the nearest untrusted hop of X-Forwarded-For is the client.
    std::vector<std::string> hops =
        absl::StrSplit(AV(req.Header("x-forwarded-for")), ',', absl::SkipWhitespace());
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      std::string hop(SV(absl::StripAsciiWhitespace(*it)));
      bool trusted = false;
      for (const auto& n : config_.trusted_proxies) trusted = trusted || n.Contains(hop);
      if (!trusted && cache::ClientAddress::Parse(hop).ok()) return hop;
    }
    break;
  }
  return req.client_ip;
}

std::optional<http::Response> Gateway::CheckLimits(const Route& route, const TenantInfo& tenant,
                                                   const std::string& ip) {
  if (!config_.rate_limit) return std::nullopt;
  auto addr = cache::ClientAddress::Parse(ip);
  if (!addr.ok()) return std::nullopt;
  // Limits fail open: an unreachable Redis must not take the API down with it.
  if (route.bucket && route.ban_check) {
    auto ban = limiter_.BanRemaining(*addr);
    if (ban.ok() && ban->has_value()) {
      std::string details =
          **ban < 0 ? "{\"remainingSecs\":null}" : "{\"remainingSecs\":" + std::to_string(**ban) + "}";
      http::Response res = ErrorResponse(403, "E-RATE-BANNED",
                                         "Access temporarily blocked due to repeated violations.", details);
      return res;
    }
  }
  if (route.bucket) {
    if (const cache::BucketLimits* b = config_.Bucket(route.bucket)) {
      auto d = limiter_.Check(*b, *addr);
      if (d.ok() && !d->allowed) return RateLimited(*d);
    }
  }
  if (config_.tenant_limit.per_second > 0) {
    auto d = limiter_.CheckKey("tn:" + std::to_string(tenant.tn_id), config_.tenant_limit);
    if (d.ok() && !d->allowed) return RateLimited(*d);  // level "tenant"
  }
  return std::nullopt;
}

http::Response Gateway::Handle(const http::Request& req) {
  auto start = std::chrono::steady_clock::now();
  metrics_->in_flight.Increment();
  std::string req_id = RequestIdFor(req);
  std::string route_name = "unrouted", tenant;
  ParsedHost host = ParseHost(req.Header("host"));
  http::Response res;
  switch (host.kind) {
    case ParsedHost::Kind::kApi:
      tenant = host.id_tag;
      res = HandleApi(req, host.id_tag, req_id, &route_name, &tenant);
      DecorateApiResponse(res, req, req_id, route_name != "unrouted");
      break;
    case ParsedHost::Kind::kApp:
      route_name = "app";
      res = HandleApp(req, host.id_tag, req_id);
      break;
    case ParsedHost::Kind::kInvalidApi:
      res = ErrorResponse(400, "E-VAL-INVALID", "Invalid tenant in Host");
      DecorateApiResponse(res, req, req_id);
      break;
    case ParsedHost::Kind::kInvalid:
      res = ErrorResponse(400, "E-VAL-INVALID", "Invalid or missing Host header");
      break;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string status = std::to_string(res.status);
  metrics_->requests.Add({{"route", route_name}, {"method", req.method}, {"status", status}}).Increment();
  metrics_->latency.Add({{"route", route_name}}, Buckets()).Observe(secs);
  if (res.status >= 400) {
    size_t p = res.body.find("\"code\":\"");
    std::string code =
        p == std::string::npos ? "none" : res.body.substr(p + 8, res.body.find('"', p + 8) - p - 8);
    metrics_->errors.Add({{"code", code}}).Increment();
  }
  metrics_->in_flight.Decrement();
  if (config_.access_log) {
    LogInfo("http_request", {{"reqId", req_id},
                             {"method", req.method},
                             {"target", RedactedTarget(req)},
                             {"status", res.status},
                             {"ms", secs * 1000},
                             {"route", route_name},
                             {"tenant", tenant},
                             {"ip", req.client_ip}});
  }
  return res;
}

http::Response Gateway::HandleApi(const http::Request& req, const std::string& id_tag,
                                  const std::string& req_id, std::string* route_name,
                                  std::string* tenant_out) {
  bool preflight = req.method == "OPTIONS";
  RouteMatch m = MatchRoute(preflight ? req.Header("access-control-request-method") : req.method, req.path);
  if (m.path_known) *route_name = m.route ? m.route->pattern : "method-not-allowed";
  if (preflight) {
    if (!m.path_known) return ErrorResponse(404, "E-CORE-NOTFOUND", "Not found");
    return PreflightResponse(req, req_id);
  }
  if (!m.route) {
    if (m.path_known)
      return ErrorResponse(405, "E-VAL-INVALID", "Method " + req.method + " not allowed here");
    return ErrorResponse(404, "E-CORE-NOTFOUND", "Not found");
  }
  const Route& route = *m.route;
  *route_name = route.pattern;

  auto tenant = directory_.Tenant(id_tag);
  if (!tenant.ok()) return ErrorResponse(503, "E-SYS-UNAVAIL", "Service temporarily unavailable");
  if (!tenant->has_value() || !(**tenant).active) {
    return ErrorResponse(403, "E-AUTH-NOPERM", "You do not have permission to access this resource");
  }
  const TenantInfo& tn = **tenant;
  std::string ip = ClientIp(req);
  if (auto limited = CheckLimits(route, tn, ip)) return *limited;

  Caller caller;
  if (route.auth != AuthMode::kIgnore) {
    AuthResult auth = Authenticate(directory_, tn, req, clock_.Now());
    if (auth.problem == AuthProblem::kUnavailable) {
      return ErrorResponse(503, "E-SYS-UNAVAIL", "Service temporarily unavailable");
    }
    if (auth.problem == AuthProblem::kNone) {
      caller = std::move(auth.caller);
    } else if (route.auth == AuthMode::kRequired) {
      if (auth.problem == AuthProblem::kBadToken) return ErrorResponse(401, "E-AUTH-UNAUTH", "Unauthorized");
      return ErrorResponse(403, "E-AUTH-NOPERM", "You do not have permission to access this resource");
    }
  }

  cloudillo::v1::ApiRequest api;
  auto* ctx = api.mutable_ctx();
  ctx->set_tn_id(tn.tn_id);
  ctx->set_id_tag(tn.id_tag);
  ctx->set_authenticated(caller.authenticated);
  ctx->set_subject(caller.subject);
  ctx->set_roles(caller.roles);
  ctx->set_scope(caller.scope);
  ctx->set_has_sub(caller.has_sub);
  ctx->set_auth_kind(caller.kind);
  ctx->set_request_id(req_id);
  ctx->set_client_ip(ip);
  ctx->set_user_agent(req.Header("user-agent"));
  // Every routed parameter is text: refuse escapes that decode to invalid UTF-8 here,
  // once, rather than in each service.
  for (auto& [k, v] : m.params) {
    if (!IsValidUtf8(v)) return ErrorResponse(400, "E-VAL-INVALID", "Path parameter is not valid UTF-8");
    (*api.mutable_path())[k] = v;
  }
  auto query = ParseQuery(req.query);
  if (!query) return ErrorResponse(400, "E-VAL-INVALID", "Malformed query string");
  for (auto& [k, v] : *query) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v))
      return ErrorResponse(400, "E-VAL-INVALID", "Query is not valid UTF-8");
    (*api.mutable_query())[k] = v;
  }
  if (!req.body.empty()) {
    const std::string& ct = req.Header("content-type");
    if (ct.compare(0, 16, "application/json") != 0) {
      return ErrorResponse(415, "E-VAL-INVALID", "Content-Type must be application/json");
    }
    api.set_body(req.body);
  }
  for (const char* h : {"if-none-match", "accept-language"}) {
    if (const std::string& v = req.Header(h); !v.empty()) (*api.mutable_headers())[h] = v;
  }

  cloudillo::v1::ApiReply reply;
  auto call = rpc::ContextWithDeadline(absl::Milliseconds(config_.rpc_timeout_ms));
  grpc::Status st = route.call(backends_, call.get(), api, &reply);
  if (!st.ok()) {
    if (WireErrorFor(st.error_code()).http_status >= 500) {
      LogWarn("backend_error", {{"reqId", req_id},
                                {"rpc", route.rpc},
                                {"code", int(st.error_code())},
                                {"error", st.error_message()}});
    }
    return FromGrpcError(st);
  }
  http::Response res;
  res.status = reply.http_status() != 0 ? reply.http_status() : 200;
  for (const auto& [k, v] : reply.headers()) res.Set(k, v);
  if (!reply.empty_body()) {
    res.Set("Content-Type", "application/json");
    res.body = reply.raw() ? reply.data_json() : SuccessBody(reply.data_json(), reply.extra_json(), req_id);
  }
  return res;
}

http::Response Gateway::HandleApp(const http::Request& req, const std::string& host_id_tag,
                                  const std::string& req_id) {
  if (req.path == "/.well-known/cloudillo/id-tag") {
    http::Response res;
    auto tenant = directory_.Tenant(host_id_tag);
    if (!tenant.ok()) {
      res = ErrorResponse(503, "E-SYS-UNAVAIL", "Service temporarily unavailable");
    } else if (!tenant->has_value()) {
      res = ErrorResponse(404, "E-CORE-NOTFOUND", "Not found");
    } else {
      res.body = "{\"idTag\":";
      AppendJsonString(res.body, (**tenant).id_tag);
      res.body += "}";
      res.Set("Content-Type", "application/json");
    }
    const std::string& origin = req.Header("origin");
    res.Set("Access-Control-Allow-Origin", origin.empty() ? "*" : origin);
    if (!origin.empty()) res.Set("Access-Control-Allow-Credentials", "true");
    res.Set("Vary", "origin");
    res.Set("Cache-Control", "no-store, no-cache");
    return res;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    return ErrorResponse(405, "E-VAL-INVALID", "Method " + req.method + " not allowed here");
  }
  if (req.path.rfind("/api/", 0) == 0 || req.path == "/api" || req.path.rfind("/ws/", 0) == 0) {
    return ErrorResponse(404, "E-CORE-NOTFOUND", "Not found");
  }
  auto tenant = directory_.Tenant(host_id_tag);
  if (!tenant.ok()) return ErrorResponse(503, "E-SYS-UNAVAIL", "Service temporarily unavailable");
  if (!tenant->has_value()) return ErrorResponse(404, "E-CORE-NOTFOUND", "Unknown host");
  auto file = static_files_.Serve(req);
  if (!file) return ErrorResponse(404, "E-CORE-NOTFOUND", "Not found");
  file->Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
  file->Set("Referrer-Policy", "strict-origin-when-cross-origin");
  if (req.method == "HEAD") file->body.clear();
  return *file;
}

}  // namespace cloudillo::gateway
