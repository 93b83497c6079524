// The gateway's abuse controls in the order a request meets them (PROTOCOL §10,
// Appendix D items 25-30, §13.9):
//
//   1. the address: a ban of it or its network, then the route's bucket;
//   2. directory misses (unknown host, unknown API key) charge the address's `lookup`
//      bucket, so made-up names cannot turn into unlimited backend calls;
//   3. anonymous requests on routes without a bucket charge the address's
//      `anonymous` bucket;
//   4. the tenant's budget, and its plan's request quotas (per minute and per day),
//      are charged only after authentication, so strangers cannot spend a tenant's
//      budget and lock its owner out.
//
// Every check is decided in process (libs/cache LocalLimiter, BanList) and reconciled
// with Redis in batches, so a request makes no Redis round trip; the one exception is
// the first sight of an address, whose ban state is looked up once and then cached.
// Limits fail open when Redis is unreachable. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cloudillo/cache/ban_list.h"
#include "cloudillo/cache/local_limiter.h"
#include "cloudillo/http/server.h"
#include "directory.h"
#include "gateway_config.h"
#include "metrics.h"
#include "route_table.h"

namespace cloudillo::gateway {

class Limits {
 public:
  Limits(const GatewayConfig& config, std::shared_ptr<cache::Redis> redis, GatewayMetrics& metrics);

  enum class Verdict { kPass, kDenied, kPending };
  // Step 1. kPending: the address's ban state is being looked up; `retry` runs (on
  // another thread) when it is known, and the caller checks again.
  Verdict CheckAddress(const Route& route, const cache::ClientAddress& addr, http::Response* denial,
                       std::function<void()> retry);
  // Steps 2-4: nullopt to go on, else the 429 to answer.
  std::optional<http::Response> ChargeLookup(const cache::ClientAddress& addr);
  std::optional<http::Response> ChargeAnonymous(const cache::ClientAddress& addr);
  std::optional<http::Response> ChargeTenant(const TenantInfo& tenant);

  void OnInvalidation(const std::string& message) { bans_.OnInvalidation(message); }
  void Clear() { bans_.Clear(); }
  void Start() { limiter_.Start(); }
  void Stop() { limiter_.Stop(); }

 private:
  std::optional<http::Response> Charge(const cache::BucketLimits& bucket, const cache::ClientAddress& addr);

  const GatewayConfig& config_;
  GatewayMetrics& metrics_;
  cache::LocalLimiter limiter_;
  cache::BanList bans_;
};

// The 429 of PROTOCOL Appendix D item 29.
http::Response RateLimited(const cache::Decision& d);
// The 429 of a spent plan quota: the same envelope, its own message and level.
http::Response QuotaExceeded(const cache::Decision& d);

}  // namespace cloudillo::gateway
