#include "metrics.h"

#include "route_table.h"

namespace cloudillo::gateway {
namespace {

constexpr const char* kMethodNames[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"};
constexpr int kStatusValues[] = {101, 200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
                                 408, 409, 410, 413, 415, 416, 428, 429, 431, 500, 502, 503, 504};
constexpr const char* kSpecialNames[] = {"unrouted",   "app",      "preflight",
                                         "well-known", "bad-host", "method-not-allowed"};
// PROTOCOL §0.2's codes (and the rate-limit ones); anything else is "other".
constexpr const char* kErrorCodes[] = {
    "E-VAL-INVALID",   "E-FILE-CYCLEREJ", "E-AUTH-UNAUTH",  "E-AUTH-NOPERM",      "E-FILE-SRCFORBID",
    "E-RATE-BANNED",   "E-CORE-NOTFOUND", "E-SET-NOTFOUND", "E-FILE-SRCNOTFOUND", "E-NET-TIMEOUT",
    "E-CORE-CONFLICT", "E-CORE-GONE",     "E-POW-REQUIRED", "E-RATE-LIMITED",     "E-CORE-DBERR",
    "E-CORE-INTERNAL", "E-CORE-PARSE",    "E-SYS-IO",       "E-NET-ERROR",        "E-IMG-PROCFAIL",
    "E-CRYPT-FAIL",    "E-CONF-CFGERR",   "E-SYS-UNAVAIL",  "E-FILE-SRCUNREACH",  "E-INTERNAL"};
constexpr int kErrorCount = sizeof(kErrorCodes) / sizeof(kErrorCodes[0]);

const prometheus::Histogram::BucketBoundaries& Buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return b;
}

}  // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& r, const RouteTable& routes,
                               const std::vector<std::string>& buckets)
    : requests_(prometheus::BuildCounter()
                    .Name("cloudillo_http_requests_total")
                    .Help("HTTP requests by route, method and status")
                    .Register(r)),
      latency_(prometheus::BuildHistogram()
                   .Name("cloudillo_http_request_duration_seconds")
                   .Help("HTTP request latency by route")
                   .Register(r)),
      errors_(prometheus::BuildCounter()
                  .Name("cloudillo_http_errors_total")
                  .Help("HTTP error answers by wire error code")
                  .Register(r)),
      cache_(prometheus::BuildCounter()
                 .Name("cloudillo_gateway_cache_lookups_total")
                 .Help("Lookups in the gateway's caches by cache and result")
                 .Register(r)),
      limited_(prometheus::BuildCounter()
                   .Name("cloudillo_rate_limited_total")
                   .Help("Requests refused by a rate limit, by bucket")
                   .Register(r)),
      in_flight_(prometheus::BuildGauge()
                     .Name("cloudillo_http_in_flight")
                     .Help("HTTP requests being handled")
                     .Register(r)
                     .Add({})) {
  for (const char* s : kSpecialNames) route_labels_.emplace_back(s);
  for (const Route& route : routes.routes()) route_labels_.emplace_back(route.pattern);
  request_handles_ =
      std::vector<std::atomic<prometheus::Counter*>>(route_labels_.size() * kMethods * kStatuses);
  latency_handles_ = std::vector<std::atomic<prometheus::Histogram*>>(route_labels_.size());
  error_handles_ = std::vector<std::atomic<prometheus::Counter*>>(kErrorCount + 1);
  const char* caches[kCacheCount] = {"tenant", "secrets", "api_key", "ban", "reply", "download"};
  for (int c = 0; c < kCacheCount; ++c) {
    cache_handles_[c][0] = &cache_.Add({{"cache", caches[c]}, {"result", "miss"}});
    cache_handles_[c][1] = &cache_.Add({{"cache", caches[c]}, {"result", "hit"}});
  }
  for (const auto& b : buckets) limited_handles_[b] = &limited_.Add({{"bucket", b}});
}

int GatewayMetrics::RouteSlot(int route) const {
  if (route >= 0) return kSpecialCount + route < int(route_labels_.size()) ? kSpecialCount + route : 0;
  int special = -1 - route;
  return special < kSpecialCount ? special : 0;
}

int GatewayMetrics::MethodSlot(std::string_view m) {
  for (int i = 0; i < kMethods - 1; ++i) {
    if (m == kMethodNames[i]) return i;
  }
  return kMethods - 1;
}

int GatewayMetrics::StatusSlot(int status) {
  for (int i = 0; i < kStatuses - 1; ++i) {
    if (kStatusValues[i] == status) return i;
  }
  return kStatuses - 1;
}

void GatewayMetrics::Request(int route, std::string_view method, int status, double seconds) {
  int r = RouteSlot(route), m = MethodSlot(method), s = StatusSlot(status);
  auto& slot = request_handles_[(size_t(r) * kMethods + m) * kStatuses + s];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (!c) {
    std::lock_guard<std::mutex> lock(mu_);
    c = slot.load();
    if (!c) {
      std::string st = s == kStatuses - 1 ? "other" : std::to_string(kStatusValues[s]);
      c = &requests_.Add({{"route", route_labels_[r]}, {"method", kMethodNames[m]}, {"status", st}});
      slot.store(c, std::memory_order_release);
    }
  }
  c->Increment();
  auto& lslot = latency_handles_[r];
  prometheus::Histogram* h = lslot.load(std::memory_order_acquire);
  if (!h) {
    std::lock_guard<std::mutex> lock(mu_);
    h = lslot.load();
    if (!h) {
      h = &latency_.Add({{"route", route_labels_[r]}}, Buckets());
      lslot.store(h, std::memory_order_release);
    }
  }
  h->Observe(seconds);
}

void GatewayMetrics::Error(std::string_view code) {
  int i = 0;
  while (i < kErrorCount && code != kErrorCodes[i]) ++i;
  auto& slot = error_handles_[i];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (!c) {
    std::lock_guard<std::mutex> lock(mu_);
    c = slot.load();
    if (!c) {
      c = &errors_.Add({{"code", i == kErrorCount ? "other" : kErrorCodes[i]}});
      slot.store(c, std::memory_order_release);
    }
  }
  c->Increment();
}

void GatewayMetrics::Limited(const std::string& bucket) {
  auto it = limited_handles_.find(bucket);
  if (it != limited_handles_.end()) it->second->Increment();
}

}  // namespace cloudillo::gateway
