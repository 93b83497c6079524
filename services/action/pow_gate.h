// Proof of work on connection requests (PROTOCOL §10, E4, E5, E23). The requirement
// is a counter per sender network (IPv4 /24, IPv6 /64) in Redis, shared by every
// replica: it rises when a CONN* token from that network fails verification (never
// for a key-fetch failure or an exact repeat, E5 recommend), is capped at 10, and
// lapses an hour after the last rise. A token satisfies N when it ends with N 'A's.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cloudillo/cache/redis.h"

namespace cloudillo::action {

// "pow:v4:1.2.3" / "pow:v6:2001:db8:0:1"; "" when `ip` is not an address.
std::string PowKey(std::string_view ip);
bool PowSatisfied(std::string_view token, int required);

class PowGate {
 public:
  explicit PowGate(std::shared_ptr<cache::Redis> redis) : redis_(std::move(redis)) {}
  // 0 when Redis is unavailable: a refusal must never come from our own outage.
  int Required(std::string_view ip);
  void Penalize(std::string_view ip);

 private:
  std::shared_ptr<cache::Redis> redis_;
};

}  // namespace cloudillo::action
