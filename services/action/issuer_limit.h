// Rate limits per issuing node on the inbox (PROTOCOL §10; issue 10 item 4).
//
// The gateway's federation bucket limits an address, but one provider delivers for
// thousands of its users from a few egress addresses, and one noisy issuer must not
// spend a whole provider's budget. So the inbox also limits each issuer, in two
// scopes: the issuer towards one of our tenants (a flood at one person) and the issuer
// towards all of them (fan-out of one post to every follower here is legitimate and
// fits that scope's larger burst).
//
// The issuer is the token's `iss`, read before the signature is checked: that is the
// point (a limit that needs a verify first saves nothing). So that a forger cannot
// spend a real node's budget by claiming its name, both scopes are also keyed by the
// sender's network (IPv4 /24, IPv6 /48): a forger exhausts only the budget of the name
// as sent from its own network.
//
// Memory and Redis use are LocalLimiter's (bounded LRU of cells, shared by replicas).
#pragma once

#include <memory>
#include <string>

#include "cloudillo/cache/local_limiter.h"

namespace cloudillo::action {

// Default: per issuer and tenant 20/s burst 100 and 2000/h; per issuer overall 200/s
// burst 2000 and 50000/h.
inline constexpr const char* kDefaultIssuerRate = "20/100,2000/2000,200/2000,50000/20000";

cache::BucketLimits DefaultIssuerLimits();

class IssuerLimit {
 public:
  // `redis` may be null (limits per process). Starts the limiter's reconciliation.
  IssuerLimit(std::shared_ptr<cache::Redis> redis, cache::BucketLimits limits);
  ~IssuerLimit();
  IssuerLimit(const IssuerLimit&) = delete;
  IssuerLimit& operator=(const IssuerLimit&) = delete;

  // One inbound token of `issuer` for tenant `tn_id` from `client_ip`. A client_ip that
  // is not an address shares one scope with every other such caller.
  cache::Decision Check(int64_t tn_id, const std::string& issuer, const std::string& client_ip);

 private:
  cache::BucketLimits limits_;
  cache::LocalLimiter limiter_;
};

}  // namespace cloudillo::action
