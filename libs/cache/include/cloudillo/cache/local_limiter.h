// Rate limits decided in process and reconciled with Redis in batches (DESIGN "Limits
// are cheap"; PROTOCOL §10, §13.9).
//
// A bucket has a short tier (per second with a burst) and a long tier (per hour with
// a burst), for the address (IPv4 /32, IPv6 /64) and for its network (IPv4 /24, IPv6
// /48). Each tier is a GCRA cell. A request is allowed only when every cell allows,
// and then charges all of them, without leaving the process.
//
// Every `sync_interval` the units each replica admitted are sent to Redis in one
// script call that adds them to the shared cells and returns each cell's state, which
// replaces the local view. A cell whose unsent units are fewer than a sixteenth of its
// burst waits for the next `lazy_interval` instead: with thousands of tenants each
// sending a few requests a second, reporting every unit within 20 ms cost Redis more
// than the requests themselves, and units that small change no decision. So long-run
// rates hold exactly across replicas, and a burst can overshoot by at most what the
// other replicas admit in one interval plus a sixteenth of a burst each (plus one
// burst per replica when it first sees a key). Cells with bursts under 32 (the auth
// bucket) are always reported at once. Without Redis the limits are per replica.
//
// Memory is bounded: at most `capacity` cells (least recently used forgotten first).
// Thread-safe; Check*() never block on I/O.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/cache/lru_map.h"
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
  std::string level;  // ipv4_individual | ipv4_network | ipv6_subnet | ipv6_provider | tenant
};

// The reference's bucket table (Appendix D item 27).
BucketLimits DefaultBucket(const std::string& name);
// "5/10,60/60,15/30,200/200": narrow short (per second/burst), narrow long (per
// hour/burst), wide short, wide long. InvalidArgument naming `name` otherwise.
absl::StatusOr<BucketLimits> ParseBucketSpec(const std::string& name, const std::string& spec);

class LocalLimiter {
 public:
  struct Options {
    size_t capacity = 200000;
    absl::Duration sync_interval = absl::Milliseconds(20);
    size_t max_batch = 2000;  // cells per Redis call
    absl::Duration lazy_interval = absl::Seconds(5);
  };

  // `redis` may be null: limits are then this process's alone.
  LocalLimiter(std::shared_ptr<Redis> redis, Options options);
  ~LocalLimiter();

  Decision CheckBucket(const BucketLimits& bucket, const ClientAddress& addr);
  // The same four cells for caller-chosen scopes: `narrow` gets the bucket's address
  // tiers, `wide` its network tiers (an issuer per tenant, and the issuer overall).
  Decision CheckScoped(const BucketLimits& bucket, const std::string& narrow, const char* narrow_level,
                       const std::string& wide, const char* wide_level);
  // One caller-chosen cell (a tenant's budget): `level` names it in a refusal.
  Decision CheckKey(const std::string& key, Tier tier, const char* level);

  // Starts and stops the reconciliation with Redis (a thread that sleeps between
  // batches; the batches themselves are asynchronous).
  void Start();
  void Stop();
  // One reconciliation now of every cell with unsent units (tests).
  void SyncNow();

 private:
  struct Request {
    std::string key;
    Tier tier;
    const char* level;
  };
  struct Cell {
    int64_t tat_us = 0;  // theoretical arrival time on this process's steady clock
    int64_t interval_us = 0;
    int burst = 1;
    int64_t pending = 0;      // units admitted here since the last batch was sent
    bool queued = false;      // in `dirty`
    uint64_t lazy_round = 0;  // the round whose `lazy` list holds it
  };
  // Shared with batches in flight, whose answers may arrive after the limiter is gone.
  struct State {
    explicit State(size_t capacity) : cells(capacity) {}
    std::mutex mu;
    LruMap<std::string, Cell> cells;
    std::vector<std::string> dirty;  // keys to send in the next batch
    std::vector<std::string> lazy;   // keys with a few units, sent at the round's end
    uint64_t round = 1;
    int64_t round_started_us = 0;
  };
  Decision Check(const Request* reqs, size_t n);
  void Run();
  void Sync(bool everything);
  static void OnSynced(State& state, const std::vector<std::string>& keys,
                       const absl::StatusOr<Reply>& reply);

  std::shared_ptr<Redis> redis_;
  Options options_;
  std::shared_ptr<State> state_;
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cloudillo::cache
