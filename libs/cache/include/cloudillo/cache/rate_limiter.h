// Rate limits and bans counted in Redis, so a limit holds across every gateway
// replica (PROTOCOL §10, Appendix D items 25-30, §13.9).
//
// A bucket has a short-term tier (per second with a burst) and a long-term tier (per
// hour with a burst), applied to the address (IPv4 /32, IPv6 /64) and to its network
// (IPv4 /24, IPv6 /48). Each tier is a GCRA cell; one Lua script checks all of them
// atomically and charges only when every one allows, with Redis' own clock so that
// replicas agree.
//
// Penalties count failures per reason; reaching the threshold bans the address and
// its network for the reason's duration.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/cache/redis.h"

namespace cloudillo::cache {

struct Tier {
  double per_second = 0;  // 0 disables the tier
  int burst = 1;
};

struct BucketLimits {
  std::string name;  // "auth", "federation", "general", ...
  Tier addr_short, addr_long, net_short, net_long;
};

struct ClientAddress {
  bool v6 = false;
  std::string individual;  // "ipv4:1.2.3.4" / "ipv6:2001:db8:0:1::/64"
  std::string network;     // "ipv4:1.2.3.0/24" / "ipv6:2001:db8::/48"
  // Parses a textual IPv4 or IPv6 address; InvalidArgument otherwise.
  static absl::StatusOr<ClientAddress> Parse(const std::string& ip);
};

struct Decision {
  bool allowed = true;
  int64_t retry_after_secs = 0;
  std::string level;  // ipv4_individual | ipv4_network | ipv6_subnet | ipv6_provider
};

enum class PenaltyReason { kAuthFailure, kTokenVerificationFailure, kSuspiciousActivity, kRepeatedViolation };

class RateLimiter {
 public:
  explicit RateLimiter(std::shared_ptr<Redis> redis) : redis_(std::move(redis)) {}

  absl::StatusOr<Decision> Check(const BucketLimits& bucket, const ClientAddress& addr);
  // A generic cell, e.g. per tenant: key is caller-chosen.
  absl::StatusOr<Decision> CheckKey(const std::string& key, Tier tier);

  // Seconds left on a ban of the address or its network, if any.
  absl::StatusOr<std::optional<int64_t>> BanRemaining(const ClientAddress& addr);
  absl::Status Penalize(const ClientAddress& addr, PenaltyReason reason);
  absl::Status LiftBan(const ClientAddress& addr);

 private:
  std::shared_ptr<Redis> redis_;
};

// The reference's bucket table (Appendix D item 27).
BucketLimits DefaultBucket(const std::string& name);

}  // namespace cloudillo::cache
