// Per-tenant usage counters in Redis, for the admin API's usage calls (never metric
// labels: DESIGN "no tenant label"). One hash per tenant and UTC day,
//
//   usage:<tn_id>:<YYYY-MM-DD>   fields req, fed_out, fed_out_bytes, fed_in, fed_in_bytes
//
// kept kUsageKeepDays. The gateway counts requests, the action service federation
// traffic; identity reads. Redis is the shared store, so replicas add to one counter
// and no service reads another's tables.
//
// Counting must not cost a Redis round trip per request: UsageRecorder adds up counts
// in process and sends them in one script call per flush (every few seconds, and at
// once when its table reaches its bound). Counts are lost when Redis is down or a
// process dies before a flush: usage is for billing overviews, not for enforcement.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"

namespace cloudillo::cache {

constexpr int kUsageKeepDays = 90;

// The fields of a day's hash.
inline constexpr char kUsageRequests[] = "req";
inline constexpr char kUsageFedOut[] = "fed_out";
inline constexpr char kUsageFedOutBytes[] = "fed_out_bytes";
inline constexpr char kUsageFedIn[] = "fed_in";
inline constexpr char kUsageFedInBytes[] = "fed_in_bytes";

std::string UsageDay(absl::Time t);  // "YYYY-MM-DD", UTC
std::string UsageKey(int64_t tn_id, absl::Time t);

class UsageRecorder {
 public:
  struct Options {
    absl::Duration flush_interval = absl::Seconds(5);
    size_t max_pending = 50000;  // distinct (tenant, day, field) counts held before a forced flush
    size_t max_batch = 1000;     // counts per script call
  };
  // `redis` may be null: counts are then dropped.
  UsageRecorder(std::shared_ptr<Redis> redis, const Clock& clock, Options options);
  UsageRecorder(std::shared_ptr<Redis> redis, const Clock& clock) : UsageRecorder(redis, clock, Options()) {}
  ~UsageRecorder();
  UsageRecorder(const UsageRecorder&) = delete;
  UsageRecorder& operator=(const UsageRecorder&) = delete;

  // Thread-safe; never blocks on I/O.
  void Add(int64_t tn_id, const char* field, int64_t n = 1);
  // Sends what accumulated (asynchronously).
  void Flush();
  // Flushes every flush_interval on a background thread; Stop() flushes a last time.
  void Start();
  void Stop();

 private:
  void Run();

  std::shared_ptr<Redis> redis_;
  const Clock& clock_;
  Options options_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, int64_t> pending_;  // (key, field) -> count
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

struct UsageCounts {
  std::string day;  // YYYY-MM-DD
  int64_t requests = 0, fed_out = 0, fed_out_bytes = 0, fed_in = 0, fed_in_bytes = 0;
};

// The last `days` days up to `now` (newest first), zeros for days without counts.
// Blocking: for worker threads.
absl::StatusOr<std::vector<UsageCounts>> ReadUsage(Redis& redis, int64_t tn_id, absl::Time now, int days);

}  // namespace cloudillo::cache
