#include "cloudillo/cache/local_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"

namespace cloudillo::cache {
namespace {

// KEYS: cells. ARGV: per cell interval (µs), burst, units admitted by the caller since
// its last batch. Adds the units to each shared cell (on Redis' clock) and returns
// each cell's debt: how far its theoretical arrival time lies ahead of now, in µs. The
// debt is capped at two bursts, so an overshoot across replicas is repaid but a
// hammered key does not stay blocked for hours.
constexpr char kSyncScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local units = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tat = tat + units * interval
  local cap = now + 2 * burst * interval
  if tat > cap then tat = cap end
  redis.call('SET', key, tat, 'PX', math.ceil((tat - now) / 1000) + 1000)
  out[i] = tat - now
end
return out
)lua";

// Cells handled per hold of the lock by the reconciliation (see Sync).
constexpr size_t kSlice = 256;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// At least 1 µs: a zero interval would leave a cell no tolerance at all, so any
// request that read the clock a moment before another was admitted was refused.
// Cells therefore admit at most a million units per second, far beyond any limit.
int64_t IntervalUs(const Tier& t) { return std::max<int64_t>(1, std::llround(1e6 / t.per_second)); }

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

BucketLimits DefaultBucket(const std::string& name) {
  auto H = [](double per_hour, int burst) { return Tier{per_hour / 3600.0, burst}; };
  if (name == "auth") return {name, {5, 10}, H(60, 60), {15, 30}, H(200, 200)};
  if (name == "federation") return {name, {100, 200}, H(1000, 100), {500, 750}, H(5000, 500)};
  if (name == "search") return {name, {30, 60}, H(600, 100), {60, 120}, H(2000, 300)};
  if (name == "websocket") return {name, {100, 200}, H(1000, 500), {100, 200}, H(1000, 500)};
  if (name == "dav") return {name, {30, 60}, H(2000, 500), {60, 120}, H(5000, 1000)};
  return {"general", {300, 500}, H(5000, 500), {600, 1000}, H(50000, 5000)};
}

LocalLimiter::LocalLimiter(std::shared_ptr<Redis> redis, Options options)
    : redis_(std::move(redis)), options_(options), state_(std::make_shared<State>(options.capacity)) {}

LocalLimiter::~LocalLimiter() { Stop(); }

Decision LocalLimiter::CheckBucket(const BucketLimits& b, const ClientAddress& addr) {
  return CheckScoped(b, addr.individual, addr.v6 ? "ipv6_subnet" : "ipv4_individual", addr.network,
                     addr.v6 ? "ipv6_provider" : "ipv4_network");
}

Decision LocalLimiter::CheckScoped(const BucketLimits& b, const std::string& narrow, const char* narrow_level,
                                   const std::string& wide, const char* wide_level) {
  std::string p = "rl:" + b.name + ":";
  const Request reqs[4] = {{p + "s:" + narrow, b.addr_short, narrow_level},
                           {p + "l:" + narrow, b.addr_long, narrow_level},
                           {p + "s:" + wide, b.net_short, wide_level},
                           {p + "l:" + wide, b.net_long, wide_level}};
  return Check(reqs, 4);
}

absl::StatusOr<BucketLimits> ParseBucketSpec(const std::string& name, const std::string& spec) {
  std::vector<std::string> parts = absl::StrSplit(AV(spec), ',');
  if (parts.size() != 4)
    return absl::InvalidArgumentError("rate limit for " + name + " needs four rate/burst pairs");
  Tier tiers[4];
  for (int i = 0; i < 4; ++i) {
    std::vector<std::string> rb = absl::StrSplit(AV(parts[i]), '/');
    double rate = 0;
    int burst = 0;
    if (rb.size() != 2 || !absl::SimpleAtod(AV(rb[0]), &rate) || !absl::SimpleAtoi(AV(rb[1]), &burst) ||
        rate < 0 || burst < 1) {
      return absl::InvalidArgumentError("rate limit for " + name + ": '" + parts[i] + "' is not rate/burst");
    }
    // Short tiers are per second, long tiers per hour.
    tiers[i] = {i % 2 == 0 ? rate : rate / 3600.0, burst};
  }
  return BucketLimits{name, tiers[0], tiers[1], tiers[2], tiers[3]};
}

Decision LocalLimiter::CheckKey(const std::string& key, Tier tier, const char* level) {
  const Request req{"rl:key:" + key, tier, level};
  return Check(&req, 1);
}

Decision LocalLimiter::Check(const Request* reqs, size_t n) {
  std::array<Cell*, 4> cells{};
  std::array<int64_t, 4> new_tats{};
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  // Read under the lock: a reading taken before waiting for it could lie behind a
  // cell another thread just moved, and be refused for the wait alone.
  int64_t now = NowUs();
  for (size_t i = 0; i < n; ++i) {
    const Request& r = reqs[i];
    if (r.tier.per_second <= 0) continue;
    Cell* c = s.cells.Find(r.key);
    if (!c) {
      Cell fresh;
      fresh.tat_us = now;
      c = &s.cells.Put(r.key, fresh);
    }
    c->interval_us = IntervalUs(r.tier);
    c->burst = std::max(1, r.tier.burst);
    int64_t tat = std::max(c->tat_us, now);
    int64_t new_tat = tat + c->interval_us;
    int64_t allow_at = new_tat - int64_t(c->burst) * c->interval_us;
    if (now < allow_at) {
      Decision d;
      d.allowed = false;
      d.retry_after_secs = (allow_at - now) / 1000000;
      d.level = r.level;
      return d;
    }
    cells[i] = c;
    new_tats[i] = new_tat;
  }
  for (size_t i = 0; i < n; ++i) {
    Cell* c = cells[i];
    if (!c) continue;
    c->tat_us = new_tats[i];
    ++c->pending;
    if (!redis_ || c->queued) continue;
    if (c->pending >= std::max(1, c->burst / 16)) {
      c->queued = true;
      s.dirty.push_back(reqs[i].key);
    } else if (c->lazy_round != s.round) {
      c->lazy_round = s.round;
      s.lazy.push_back(reqs[i].key);
    }
  }
  return Decision{};
}

void LocalLimiter::Start() {
  if (!redis_ || thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LocalLimiter::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LocalLimiter::Run() {
  std::unique_lock<std::mutex> lock(run_mu_);
  while (!stop_) {
    lock.unlock();
    Sync(false);
    lock.lock();
    run_cv_.wait_for(lock, absl::ToChronoMicroseconds(options_.sync_interval), [&] { return stop_; });
  }
}

void LocalLimiter::SyncNow() { Sync(true); }

void LocalLimiter::Sync(bool everything) {
  if (!redis_) return;
  State& s = *state_;
  std::vector<std::string> lazy;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    int64_t now = NowUs();
    if (everything || now - s.round_started_us >= absl::ToInt64Microseconds(options_.lazy_interval)) {
      s.round_started_us = now;
      ++s.round;
      lazy.swap(s.lazy);
    }
  }
  // Tens of thousands of cells may end a round: work through them a slice at a time, so
  // that a request's Check() never waits for more than one slice.
  for (size_t start = 0; start < lazy.size(); start += kSlice) {
    std::lock_guard<std::mutex> lock(s.mu);
    for (size_t i = start; i < std::min(lazy.size(), start + kSlice); ++i) {
      Cell* c = s.cells.Find(lazy[i]);
      if (!c || c->pending == 0 || c->queued) continue;  // forgotten, or sent meanwhile
      c->queued = true;
      s.dirty.push_back(std::move(lazy[i]));
    }
  }
  std::vector<std::string> keys, args;
  while (keys.size() < options_.max_batch) {
    std::lock_guard<std::mutex> lock(s.mu);
    size_t take = std::min({s.dirty.size(), kSlice, options_.max_batch - keys.size()});
    if (take == 0) break;
    for (size_t i = 0; i < take; ++i) {
      std::string& key = s.dirty[s.dirty.size() - 1 - i];
      Cell* c = s.cells.Find(key);
      if (!c) continue;  // forgotten meanwhile
      c->queued = false;
      keys.push_back(std::move(key));
      args.push_back(std::to_string(c->interval_us));
      args.push_back(std::to_string(c->burst));
      args.push_back(std::to_string(c->pending));
      c->pending = 0;
    }
    s.dirty.resize(s.dirty.size() - take);
  }
  if (keys.empty()) return;
  std::vector<std::string> sent = keys;
  redis_->ScriptAsync(kSyncScript, std::move(keys), std::move(args),
                      [state = state_, sent = std::move(sent)](absl::StatusOr<Reply> reply) {
                        OnSynced(*state, sent, reply);
                      });
}

void LocalLimiter::OnSynced(State& s, const std::vector<std::string>& keys,
                            const absl::StatusOr<Reply>& reply) {
  // Without Redis the local view simply stands (limits fail towards per-replica ones).
  if (!reply.ok() || reply->type != Reply::Type::kArray || reply->elements.size() != keys.size()) return;
  for (size_t start = 0; start < keys.size(); start += kSlice) {
    std::lock_guard<std::mutex> lock(s.mu);
    int64_t now = NowUs();
    for (size_t i = start; i < std::min(keys.size(), start + kSlice); ++i) {
      Cell* c = s.cells.Find(keys[i]);
      if (!c) continue;
      // What every replica admitted, plus what this one admitted since the batch left.
      c->tat_us = now + reply->elements[i].integer + c->pending * c->interval_us;
    }
  }
}

}  // namespace cloudillo::cache
