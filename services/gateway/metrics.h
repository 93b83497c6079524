// The gateway's Prometheus series, each over a closed set of labels (so no request,
// however hostile its method, path or host, can add a series): routes from the route
// table plus a few fixed names, eight method names, a fixed list of statuses and the
// protocol's error codes; anything else counts as "other". Handles are made once per
// label combination and then reused, so counting costs an array lookup.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cloudillo::gateway {

class RouteTable;

class GatewayMetrics {
 public:
  // Route labels beyond the table's own patterns.
  enum Special { kUnrouted = 0, kApp, kPreflight, kWellKnown, kBadHost, kMethodNotAllowed, kSpecialCount };

  enum Cache {
    kTenantCache = 0,
    kSecretsCache,
    kApiKeyCache,
    kBanCache,
    kReplyCache,
    kDownloadCache,
    kCacheCount
  };

  GatewayMetrics(prometheus::Registry& registry, const RouteTable& routes,
                 const std::vector<std::string>& buckets);

  // `route` is an index into the route table, or -1 - Special.
  static int SpecialRoute(Special s) { return -1 - int(s); }

  void Request(int route, std::string_view method, int status, double seconds);
  void Error(std::string_view code);
  void CacheLookup(Cache cache, bool hit) { cache_handles_[cache][hit ? 1 : 0]->Increment(); }
  void Limited(const std::string& bucket);

  prometheus::Gauge& in_flight() { return in_flight_; }

 private:
  static constexpr int kMethods = 8;
  static constexpr int kStatuses = 27;
  int RouteSlot(int route) const;
  static int MethodSlot(std::string_view m);
  static int StatusSlot(int status);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& cache_;
  prometheus::Family<prometheus::Counter>& limited_;
  prometheus::Gauge& in_flight_;
  std::vector<std::string> route_labels_;
  // Lazily made handles; the pointers never change once set.
  std::mutex mu_;
  std::vector<std::atomic<prometheus::Counter*>> request_handles_;
  std::vector<std::atomic<prometheus::Histogram*>> latency_handles_;
  std::vector<std::atomic<prometheus::Counter*>> error_handles_;
  std::array<std::array<prometheus::Counter*, 2>, kCacheCount> cache_handles_;
  std::unordered_map<std::string, prometheus::Counter*> limited_handles_;  // fixed after construction
};

}  // namespace cloudillo::gateway
