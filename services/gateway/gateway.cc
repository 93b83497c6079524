#include "gateway.h"

#include <prometheus/registry.h>

#include "absl/strings/str_split.h"
#include "api_flow.h"
#include "client_limits.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "cloudillo/http/content_coding.h"
#include "envelope.h"

namespace cloudillo::gateway {
namespace {

// Query values named like secrets, matched after percent-decoding the name so that
// `%74oken=` is redacted like `token=`.
bool SecretParam(std::string_view raw_name) {
  auto name = PercentDecode(raw_name, true);
  if (!name) return true;  // undecodable: redact rather than guess
  return *name == "token" || *name == "apiKey" || *name == "secret" || *name == "password";
}

std::vector<std::string> BucketNames(const GatewayConfig& c) {
  std::vector<std::string> names = {"tenant", "tenant_quota", "banned", c.lookup_bucket.name,
                                    c.anonymous_bucket.name};
  for (const auto& b : c.buckets) names.push_back(b.name);
  return names;
}

}  // namespace

std::string RedactedTarget(const http::Request& req) {
  if (req.query.empty()) return req.path;
  std::string out = req.path + "?";
  bool first = true;
  for (absl::string_view part : absl::StrSplit(AV(req.query), '&')) {
    if (!first) out += '&';
    first = false;
    size_t eq = part.find('=');
    if (SecretParam(SV(part.substr(0, eq)))) {
      out += std::string(part.substr(0, eq)) + "=REDACTED";
    } else {
      out += std::string(part);
    }
  }
  return out;
}

Gateway::Gateway(GatewayConfig config, GatewayBackends backends, std::shared_ptr<cache::Redis> redis,
                 std::shared_ptr<prometheus::Registry> registry, const Clock& clock, const RouteTable& routes)
    : config_(std::move(config)),
      routes_(routes),
      redis_(std::move(redis)),
      clock_(clock),
      metrics_(std::make_unique<GatewayMetrics>(*registry, routes_, BucketNames(config_))),
      directory_(std::move(backends.directory), absl::Milliseconds(config_.rpc_timeout_ms), clock),
      limits_(std::make_unique<Limits>(config_, redis_, *metrics_)),
      usage_(redis_, clock_),
      static_files_(config_.web_root),
      downloads_(4096, config_.download_cache_bytes),
      sockets_(config_.socket_streams),
      disk_({"web-root", 2, 256, 0, registry.get()}) {
  for (auto& [name, channel] : backends.channels) stubs_[name] = std::make_unique<grpc::GenericStub>(channel);
}

Gateway::~Gateway() { disk_.Shutdown(); }

void Gateway::Start() {
  limits_->Start();
  usage_.Start();
}
void Gateway::Stop() {
  limits_->Stop();
  usage_.Stop();
}

grpc::GenericStub* Gateway::Stub(const std::string& backend) {
  auto it = stubs_.find(backend);
  return it == stubs_.end() ? nullptr : it->second.get();
}

bool Gateway::BeginFill(const std::string& key) {
  std::lock_guard<std::mutex> lock(fills_mu_);
  if (fills_.size() >= kMaxFills) return false;
  return fills_.insert(key).second;
}

bool Gateway::Filling(const std::string& key) {
  std::lock_guard<std::mutex> lock(fills_mu_);
  return fills_.count(key) > 0;
}

void Gateway::EndFill(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(fills_mu_);
    fills_.erase(key);
  }
  fill_waiters_.Notify(key);
}

void Gateway::OnInvalidation(const std::string& message) {
  if (message.rfind(cache::kWakePrefix, 0) == 0) {
    return waiters_.Notify(message.substr(sizeof(cache::kWakePrefix) - 1));
  }
  directory_.Invalidate(message);
  limits_->OnInvalidation(message);
  replies_.Invalidate(message);
  downloads_.Invalidate(message);
}

void Gateway::OnSubscriberReset() {
  directory_.Clear();
  limits_->Clear();
  replies_.Clear();
  downloads_.Clear();
  waiters_.NotifyAll();
}

http::BodyPlan Gateway::PlanBody(const http::Request& head) const {
  // Only a cl-o. host reaches routes; anything else carries no body we would read.
  ParsedHost host = ParseHost(head.Header("host"));
  if (host.kind != ParsedHost::Kind::kApi) return {0, false};
  RouteMatch m = routes_.Match(head.method, head.path);
  if (!m.route) return {config_.max_body_bytes, false};
  size_t limit = m.route->body_limit ? m.route->body_limit : config_.max_body_bytes;
  return {limit, m.route->kind == RouteKind::kUpload};
}

http::Response Gateway::BadRequest(int status, const std::string& reason) {
  std::string message = status == 413   ? "Request body too large"
                        : status == 431 ? "Request header fields too large"
                                        : "Malformed HTTP request";
  http::Response res = ErrorResponse(status, "E-VAL-INVALID", message);
  res.Set("Connection", "close");
  metrics_->Error(res.error_code);
  metrics_->Request(GatewayMetrics::SpecialRoute(GatewayMetrics::kUnrouted), "other", status, 0);
  if (config_.access_log) {
    LogInfo("http_request", {{"status", status}, {"route", "bad-request"}, {"reason", reason}});
  }
  return res;
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
  o.max_body_limit = routes_.MaxBodyLimit(config_.max_body_bytes);
  o.body_plan = [this](const http::Request& head) { return PlanBody(head); };
  o.handler = [this](std::shared_ptr<http::Exchange> ex) { Handle(std::move(ex)); };
  o.on_bad_request = [this](int status, const std::string& reason) { return BadRequest(status, reason); };
  o.on_internal_error = [] { return ErrorResponse(500, "E-CORE-INTERNAL", "Internal server error"); };
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

void Gateway::Handle(std::shared_ptr<http::Exchange> ex) {
  absl::Time start = absl::Now();
  metrics_->in_flight().Increment();
  const http::Request& req = ex->request();
  std::string req_id = RequestIdFor(req);
  ParsedHost host = ParseHost(req.Header("host"));
  switch (host.kind) {
    case ParsedHost::Kind::kApi:
      return std::make_shared<ApiFlow>(*this, std::move(ex), host.id_tag, std::move(req_id), start)->Start();
    case ParsedHost::Kind::kApp:
      return HandleApp(ex, host.id_tag, req_id, start);
    case ParsedHost::Kind::kInvalidApi: {
      http::Response res = ErrorResponse(400, "E-VAL-INVALID", "Invalid tenant in Host");
      DecorateApiResponse(res, req, req_id);
      return Complete(ex, std::move(res), GatewayMetrics::SpecialRoute(GatewayMetrics::kBadHost), req_id, "",
                      start);
    }
    case ParsedHost::Kind::kInvalid:
      return Complete(ex, ErrorResponse(400, "E-VAL-INVALID", "Invalid or missing Host header"),
                      GatewayMetrics::SpecialRoute(GatewayMetrics::kBadHost), req_id, "", start);
  }
}

void Gateway::Complete(const std::shared_ptr<http::Exchange>& ex, http::Response res, int route,
                       const std::string& req_id, const std::string& tenant, absl::Time start) {
  // Every answer's one exit: compressed here when the client takes it (static files
  // arrive already encoded and are left alone).
  http::CompressResponse(ex->request().Header("accept-encoding"), res);
  Record(ex->request(), res, route, req_id, tenant, start);
  ex->Respond(std::move(res));
}

void Gateway::Record(const http::Request& req, const http::Response& res, int route,
                     const std::string& req_id, const std::string& tenant, absl::Time start) {
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  metrics_->Request(route, req.method, res.status, secs);
  if (res.status >= 400) metrics_->Error(res.error_code.empty() ? "none" : res.error_code);
  metrics_->in_flight().Decrement();
  if (config_.access_log) {
    LogInfo("http_request", {{"reqId", req_id},
                             {"method", req.method},
                             {"target", RedactedTarget(req)},
                             {"status", res.status},
                             {"ms", secs * 1000},
                             {"route", route >= 0 ? routes_.routes()[size_t(route)].pattern : "-"},
                             {"tenant", tenant},
                             {"ip", req.client_ip}});
  }
}

void Gateway::HandleApp(const std::shared_ptr<http::Exchange>& ex, const std::string& host_id_tag,
                        const std::string& req_id, absl::Time start) {
  const http::Request& req = ex->request();
  const int app_route = GatewayMetrics::SpecialRoute(GatewayMetrics::kApp);
  if (req.path == "/.well-known/cloudillo/id-tag") {
    auto answer = [this, ex, req_id, start](absl::StatusOr<std::optional<TenantInfo>> tenant) {
      const http::Request& r = ex->request();
      http::Response res;
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
      const std::string& origin = r.Header("origin");
      res.Set("Access-Control-Allow-Origin", origin.empty() ? "*" : origin);
      if (!origin.empty()) res.Set("Access-Control-Allow-Credentials", "true");
      res.Set("Vary", "origin");
      res.Set("Cache-Control", "no-store, no-cache");
      Complete(ex, std::move(res), GatewayMetrics::SpecialRoute(GatewayMetrics::kWellKnown), req_id, "",
               start);
    };
    if (auto hit = directory_.TryTenant(host_id_tag)) return answer(*hit);
    auto addr = cache::ClientAddress::Parse(ClientIp(req));
    if (addr.ok()) {
      if (auto limited = limits_->ChargeLookup(*addr)) {
        return Complete(ex, std::move(*limited), app_route, req_id, "", start);
      }
    }
    return directory_.FetchTenant(
        host_id_tag, [ex, answer](auto tenant) { ex->Post([answer, tenant] { answer(tenant); }); });
  }
  if (req.method != "GET" && req.method != "HEAD") {
    return Complete(ex, ErrorResponse(405, "E-VAL-INVALID", "Method not allowed here"), app_route, req_id, "",
                    start);
  }
  if (req.path.rfind("/api/", 0) == 0 || req.path == "/api" || req.path.rfind("/ws/", 0) == 0) {
    return Complete(ex, ErrorResponse(404, "E-CORE-NOTFOUND", "Not found"), app_route, req_id, "", start);
  }
  auto serve = [this, ex, req_id, start, app_route](absl::StatusOr<std::optional<TenantInfo>> tenant) {
    if (!tenant.ok()) {
      return Complete(ex, ErrorResponse(503, "E-SYS-UNAVAIL", "Service temporarily unavailable"), app_route,
                      req_id, "", start);
    }
    if (!tenant->has_value()) {
      return Complete(ex, ErrorResponse(404, "E-CORE-NOTFOUND", "Unknown host"), app_route, req_id, "",
                      start);
    }
    // The web root is on disk: read it on the disk pool, never on an I/O thread.
    bool queued = disk_.TrySubmit([this, ex, req_id, start, app_route] {
      const http::Request& r = ex->request();
      auto file = static_files_.Serve(r);
      if (!file) {
        return Complete(ex, ErrorResponse(404, "E-CORE-NOTFOUND", "Not found"), app_route, req_id, "", start);
      }
      file->Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
      file->Set("Referrer-Policy", "strict-origin-when-cross-origin");
      Complete(ex, std::move(*file), app_route, req_id, "", start);
    });
    if (!queued) {
      Complete(ex, ErrorResponse(503, "E-SYS-UNAVAIL", "Service temporarily unavailable"), app_route, req_id,
               "", start);
    }
  };
  if (auto hit = directory_.TryTenant(host_id_tag)) return serve(*hit);
  auto addr = cache::ClientAddress::Parse(ClientIp(req));
  if (addr.ok()) {
    if (auto limited = limits_->ChargeLookup(*addr))
      return Complete(ex, std::move(*limited), app_route, req_id, "", start);
  }
  directory_.FetchTenant(host_id_tag,
                         [ex, serve](auto tenant) { ex->Post([serve, tenant] { serve(tenant); }); });
}

}  // namespace cloudillo::gateway
