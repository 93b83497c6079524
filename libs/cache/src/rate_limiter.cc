#include "cloudillo/cache/rate_limiter.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstring>

#include "cloudillo/core/status_macros.h"

namespace cloudillo::cache {
namespace {

// KEYS: one per cell. ARGV: per cell, the emission interval and the burst, in µs/units.
// Returns {allowed(0/1), retry_after_us, failing_cell_index(1-based, 0 if allowed)}.
constexpr char kGcraScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local new_tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if now < allow_at then
    return {0, allow_at - now, i}
  end
  new_tats[i] = new_tat
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, new_tats[i], 'PX', math.ceil((new_tats[i] - now) / 1000) + 1000)
end
return {1, 0, 0}
)lua";

struct Cell {
  std::string key;
  Tier tier;
  std::string level;
};

absl::StatusOr<Decision> RunCells(Redis& redis, const std::vector<Cell>& cells) {
  std::vector<std::string> args = {"EVAL", kGcraScript, "0"};
  std::vector<const Cell*> active;
  for (const auto& c : cells) {
    if (c.tier.per_second > 0) active.push_back(&c);
  }
  if (active.empty()) return Decision{};
  args[2] = std::to_string(active.size());
  for (const auto* c : active) args.push_back(c->key);
  for (const auto* c : active) {
    args.push_back(std::to_string(int64_t(std::llround(1e6 / c->tier.per_second))));
    args.push_back(std::to_string(std::max(1, c->tier.burst)));
  }
  CL_ASSIGN_OR_RETURN(Reply r, redis.Command(args));
  if (r.type != Reply::Type::kArray || r.elements.size() != 3)
    return absl::InternalError("rate limiter: bad reply");
  Decision d;
  d.allowed = r.elements[0].integer == 1;
  if (!d.allowed) {
    d.retry_after_secs = r.elements[1].integer / 1000000;
    int64_t idx = r.elements[2].integer;
    if (idx >= 1 && size_t(idx) <= active.size()) d.level = active[idx - 1]->level;
  }
  return d;
}

struct PenaltyRule {
  const char* name;
  int threshold;
  int ban_secs;
};
PenaltyRule RuleFor(PenaltyReason r) {
  switch (r) {
    case PenaltyReason::kAuthFailure:
      return {"auth", 20, 3600};
    case PenaltyReason::kTokenVerificationFailure:
      return {"token", 3, 3600};
    case PenaltyReason::kSuspiciousActivity:
      return {"suspicious", 2, 7200};
    case PenaltyReason::kRepeatedViolation:
      return {"repeated", 1, 86400};
  }
  return {"auth", 20, 3600};
}

}  // namespace

absl::StatusOr<ClientAddress> ClientAddress::Parse(const std::string& ip) {
  ClientAddress a;
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    inet_ntop(AF_INET, buf, text, sizeof text);
    a.individual = std::string("ipv4:") + text;
    buf[3] = 0;
    inet_ntop(AF_INET, buf, text, sizeof text);
    a.network = std::string("ipv4:") + text + "/24";
    return a;
  }
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    a.v6 = true;
    std::memset(buf + 8, 0, 8);
    inet_ntop(AF_INET6, buf, text, sizeof text);
    a.individual = std::string("ipv6:") + text + "/64";
    std::memset(buf + 6, 0, 2);
    inet_ntop(AF_INET6, buf, text, sizeof text);
    a.network = std::string("ipv6:") + text + "/48";
    return a;
  }
  return absl::InvalidArgumentError("not an IP address");
}

absl::StatusOr<Decision> RateLimiter::Check(const BucketLimits& b, const ClientAddress& addr) {
  std::string ind_level = addr.v6 ? "ipv6_subnet" : "ipv4_individual";
  std::string net_level = addr.v6 ? "ipv6_provider" : "ipv4_network";
  std::string p = "rl:" + b.name + ":";
  return RunCells(*redis_, {{p + "s:" + addr.individual, b.addr_short, ind_level},
                            {p + "l:" + addr.individual, b.addr_long, ind_level},
                            {p + "s:" + addr.network, b.net_short, net_level},
                            {p + "l:" + addr.network, b.net_long, net_level}});
}

absl::StatusOr<Decision> RateLimiter::CheckKey(const std::string& key, Tier tier) {
  return RunCells(*redis_, {{"rl:key:" + key, tier, "tenant"}});
}

absl::StatusOr<std::optional<int64_t>> RateLimiter::BanRemaining(const ClientAddress& addr) {
  CL_ASSIGN_OR_RETURN(Reply a, redis_->Command({"TTL", "ban:" + addr.individual}));
  CL_ASSIGN_OR_RETURN(Reply n, redis_->Command({"TTL", "ban:" + addr.network}));
  int64_t best = std::max(a.integer, n.integer);  // -2 = no key, -1 = permanent
  if (a.integer == -1 || n.integer == -1) return std::optional<int64_t>(-1);
  if (best < 0) return std::optional<int64_t>();
  return std::optional<int64_t>(best);
}

absl::Status RateLimiter::Penalize(const ClientAddress& addr, PenaltyReason reason) {
  PenaltyRule rule = RuleFor(reason);
  std::string key = std::string("pen:") + rule.name + ":" + addr.individual;
  CL_ASSIGN_OR_RETURN(Reply count, redis_->Command({"INCR", key}));
  CL_RETURN_IF_ERROR(redis_->Command({"EXPIRE", key, "3600", "NX"}).status());
  if (count.integer >= rule.threshold) {
    std::string secs = std::to_string(rule.ban_secs);
    CL_RETURN_IF_ERROR(redis_->Command({"SET", "ban:" + addr.individual, rule.name, "EX", secs}).status());
    CL_RETURN_IF_ERROR(redis_->Command({"SET", "ban:" + addr.network, rule.name, "EX", secs}).status());
    CL_RETURN_IF_ERROR(redis_->Command({"DEL", key}).status());
  }
  return absl::OkStatus();
}

absl::Status RateLimiter::LiftBan(const ClientAddress& addr) {
  return redis_->Command({"DEL", "ban:" + addr.individual, "ban:" + addr.network}).status();
}

BucketLimits DefaultBucket(const std::string& name) {
  auto H = [](double per_hour, int burst) { return Tier{per_hour / 3600.0, burst}; };
  if (name == "auth") return {name, {5, 10}, H(60, 60), {15, 30}, H(200, 200)};
  if (name == "federation") return {name, {100, 200}, H(1000, 100), {500, 750}, H(5000, 500)};
  if (name == "search") return {name, {30, 60}, H(600, 100), {60, 120}, H(2000, 300)};
  if (name == "websocket") return {name, {100, 200}, H(1000, 500), {100, 200}, H(1000, 500)};
  if (name == "dav") return {name, {30, 60}, H(2000, 500), {60, 120}, H(5000, 1000)};
  return {"general", {300, 500}, H(5000, 500), {600, 1000}, H(50000, 5000)};
}

}  // namespace cloudillo::cache
