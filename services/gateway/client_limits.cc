#include "client_limits.h"

#include <nlohmann/json.hpp>

#include "envelope.h"

namespace cloudillo::gateway {

http::Response RateLimited(const cache::Decision& d) {
  nlohmann::json details = {{"level", d.level}, {"retryAfter", d.retry_after_secs}};
  http::Response res =
      ErrorResponse(429, "E-RATE-LIMITED", "Too many requests. Please slow down.", details.dump());
  res.Set("Retry-After", std::to_string(d.retry_after_secs));
  res.Set("X-RateLimit-Level", d.level);
  return res;
}

http::Response QuotaExceeded(const cache::Decision& d) {
  nlohmann::json details = {{"level", d.level}, {"retryAfter", d.retry_after_secs}};
  http::Response res = ErrorResponse(429, "E-RATE-LIMITED",
                                     "The request quota of this tenant's plan is used up.", details.dump());
  res.Set("Retry-After", std::to_string(d.retry_after_secs));
  res.Set("X-RateLimit-Level", d.level);
  return res;
}

Limits::Limits(const GatewayConfig& config, std::shared_ptr<cache::Redis> redis, GatewayMetrics& metrics)
    : config_(config),
      metrics_(metrics),
      limiter_(redis, cache::LocalLimiter::Options{}),
      bans_(redis, cache::BanList::kDefaultCapacity) {}

Limits::Verdict Limits::CheckAddress(const Route& route, const cache::ClientAddress& addr,
                                     http::Response* denial, std::function<void()> retry) {
  if (!config_.rate_limit || !route.bucket) return Verdict::kPass;
  if (route.ban_check) {
    cache::BanList::State ban = bans_.Check(addr, std::move(retry));
    if (ban.kind == cache::BanList::State::kUnknown) return Verdict::kPending;
    if (ban.kind == cache::BanList::State::kBanned) {
      std::string details = ban.remaining_secs < 0
                                ? "{\"remainingSecs\":null}"
                                : "{\"remainingSecs\":" + std::to_string(ban.remaining_secs) + "}";
      *denial = ErrorResponse(403, "E-RATE-BANNED", "Access temporarily blocked due to repeated violations.",
                              details);
      metrics_.Limited("banned");
      return Verdict::kDenied;
    }
  }
  if (const cache::BucketLimits* b = config_.Bucket(route.bucket)) {
    if (auto limited = Charge(*b, addr)) {
      *denial = std::move(*limited);
      return Verdict::kDenied;
    }
  }
  return Verdict::kPass;
}

std::optional<http::Response> Limits::Charge(const cache::BucketLimits& bucket,
                                             const cache::ClientAddress& addr) {
  cache::Decision d = limiter_.CheckBucket(bucket, addr);
  if (d.allowed) return std::nullopt;
  metrics_.Limited(bucket.name);
  return RateLimited(d);
}

std::optional<http::Response> Limits::ChargeLookup(const cache::ClientAddress& addr) {
  if (!config_.rate_limit) return std::nullopt;
  return Charge(config_.lookup_bucket, addr);
}

std::optional<http::Response> Limits::ChargeAnonymous(const cache::ClientAddress& addr) {
  if (!config_.rate_limit) return std::nullopt;
  return Charge(config_.anonymous_bucket, addr);
}

std::optional<http::Response> Limits::ChargeTenant(const TenantInfo& tenant) {
  const std::string tn = std::to_string(tenant.tn_id);
  // The plan's quotas are GCRA cells like the budget: shared by the replicas through
  // Redis, one cell per tenant and window, in the limiter's bounded table. A day's
  // quota refills continuously (1/86400 of it per second), not at midnight.
  if (tenant.requests_per_minute > 0) {
    cache::Tier t{tenant.requests_per_minute / 60.0, tenant.requests_per_minute};
    cache::Decision d = limiter_.CheckKey("tq:m:" + tn, t, "tenant_quota_minute");
    if (!d.allowed) {
      metrics_.Limited("tenant_quota");
      return QuotaExceeded(d);
    }
  }
  if (tenant.requests_per_day > 0) {
    cache::Tier t{tenant.requests_per_day / 86400.0, tenant.requests_per_day};
    cache::Decision d = limiter_.CheckKey("tq:d:" + tn, t, "tenant_quota_day");
    if (!d.allowed) {
      metrics_.Limited("tenant_quota");
      return QuotaExceeded(d);
    }
  }
  // Quotas are what the provider sells, so they hold even with rate limiting off.
  if (!config_.rate_limit || config_.tenant_limit.per_second <= 0) return std::nullopt;
  cache::Decision d = limiter_.CheckKey("tn:" + tn, config_.tenant_limit, "tenant");
  if (d.allowed) return std::nullopt;
  metrics_.Limited("tenant");
  return RateLimited(d);
}

}  // namespace cloudillo::gateway
