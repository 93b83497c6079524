// Bans (PROTOCOL §10 "Penalties and bans", Appendix D items 25 and 30): failures are
// counted per address in Redis; reaching a reason's threshold bans the address and
// its network for the reason's time. Whoever bans or lifts a ban publishes
// `ban:<address key>` on the invalidation channel.
//
// BanList is the gateway's view: the ban state of each address it has seen, in a
// bounded LRU, so a request normally costs no Redis round trip. The first request
// from an address (and one a minute after that) looks its state up once, coalesced
// with any other request from it; an unreachable Redis counts as "not banned" (limits
// fail open), remembered only briefly. Thread-safe; Check() never blocks.
//
// Penalize() and LiftBan() are blocking and meant for services' worker threads.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cloudillo/cache/local_limiter.h"
#include "cloudillo/cache/lru_map.h"
#include "cloudillo/cache/redis.h"

namespace cloudillo::cache {

enum class PenaltyReason { kAuthFailure, kTokenVerificationFailure, kSuspiciousActivity, kRepeatedViolation };

absl::Status Penalize(Redis& redis, const ClientAddress& addr, PenaltyReason reason);
absl::Status LiftBan(Redis& redis, const ClientAddress& addr);

class BanList {
 public:
  static constexpr size_t kDefaultCapacity = 100000;
  static constexpr absl::Duration kClearTtl = absl::Seconds(60);
  static constexpr absl::Duration kUnknownTtl = absl::Seconds(5);  // Redis did not answer

  // `redis` may be null: nobody is ever banned.
  BanList(std::shared_ptr<Redis> redis, size_t capacity);

  struct State {
    enum Kind { kClear, kBanned, kUnknown } kind = kClear;
    int64_t remaining_secs = 0;  // kBanned: seconds left, -1 for a permanent ban
  };
  // From memory. kUnknown means a lookup runs: `ready` is called (on the Redis
  // client's thread) once the state is known; call Check again then.
  State Check(const ClientAddress& addr, std::function<void()> ready);
  // "ban:<address key>": forget what we knew about that address or network.
  void OnInvalidation(const std::string& message);
  void Clear();

 private:
  struct Entry {
    std::string network;
    absl::Time banned_until;  // InfinitePast: not banned; InfiniteFuture: permanent
    absl::Time valid_until;   // when to look again
  };
  struct Shared {
    explicit Shared(size_t capacity) : entries(capacity) {}
    std::mutex mu;
    LruMap<std::string, Entry> entries;
    std::unordered_map<std::string, std::vector<std::function<void()>>> pending;
  };
  std::shared_ptr<Redis> redis_;
  std::shared_ptr<Shared> shared_;  // outlives lookups in flight
};

}  // namespace cloudillo::cache
