#include "cloudillo/cache/usage.h"

#include <condition_variable>

#include "absl/strings/numbers.h"
#include "cloudillo/core/log.h"

namespace cloudillo::cache {
namespace {

// KEYS[i] gets HINCRBY ARGV[2i] by ARGV[2i+1]; ARGV[1] is the lifetime in seconds.
constexpr char kAddScript[] = R"lua(
for i, k in ipairs(KEYS) do
  redis.call('HINCRBY', k, ARGV[2 * i], ARGV[2 * i + 1])
  redis.call('EXPIRE', k, ARGV[1])
end
return #KEYS
)lua";

}  // namespace

std::string UsageDay(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

std::string UsageKey(int64_t tn_id, absl::Time t) {
  return "usage:" + std::to_string(tn_id) + ":" + UsageDay(t);
}

UsageRecorder::UsageRecorder(std::shared_ptr<Redis> redis, const Clock& clock, Options options)
    : redis_(std::move(redis)), clock_(clock), options_(options) {}

UsageRecorder::~UsageRecorder() { Stop(); }

void UsageRecorder::Add(int64_t tn_id, const char* field, int64_t n) {
  if (!redis_ || n == 0) return;
  // The gateway adds on every request: each thread formats the date once a day, not
  // each time.
  thread_local int64_t day = -1;
  thread_local std::string day_text;
  absl::Time now = clock_.Now();
  if (int64_t d = absl::ToUnixSeconds(now) / 86400; d != day) {
    day = d;
    day_text = UsageDay(now);
  }
  std::string key = "usage:" + std::to_string(tn_id) + ":" + day_text;
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_[{std::move(key), field}] += n;
    full = pending_.size() >= options_.max_pending;
  }
  if (full) Flush();
}

void UsageRecorder::Flush() {
  std::map<std::pair<std::string, std::string>, int64_t> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
  }
  if (!redis_ || batch.empty()) return;
  std::vector<std::string> keys, args{std::to_string(int64_t(kUsageKeepDays) * 86400)};
  auto send = [&] {
    if (keys.empty()) return;
    size_t n = keys.size();
    redis_->ScriptAsync(kAddScript, std::move(keys), std::move(args), [n](absl::StatusOr<Reply> r) {
      if (!r.ok())
        LogWarn("usage_flush_failed", {{"counts", int64_t(n)}, {"error", std::string(r.status().message())}});
    });
    keys = {};
    args = {std::to_string(int64_t(kUsageKeepDays) * 86400)};
  };
  for (const auto& [kf, n] : batch) {
    keys.push_back(kf.first);
    args.push_back(kf.second);
    args.push_back(std::to_string(n));
    if (keys.size() >= options_.max_batch) send();
  }
  send();
}

void UsageRecorder::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Run(); });
}

void UsageRecorder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Flush();
}

void UsageRecorder::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.flush_interval), [&] { return stop_; });
    if (stop_) break;
    lock.unlock();
    Flush();
    lock.lock();
  }
}

absl::StatusOr<std::vector<UsageCounts>> ReadUsage(Redis& redis, int64_t tn_id, absl::Time now, int days) {
  std::vector<UsageCounts> out;
  for (int i = 0; i < days; ++i) {
    absl::Time t = now - absl::Hours(24 * i);
    auto r = redis.Command({"HGETALL", UsageKey(tn_id, t)});
    if (!r.ok()) return r.status();
    UsageCounts c;
    c.day = UsageDay(t);
    for (size_t j = 0; j + 1 < r->elements.size(); j += 2) {
      const std::string& f = r->elements[j].str;
      int64_t v = 0;
      if (!absl::SimpleAtoi(r->elements[j + 1].str, &v)) continue;
      if (f == kUsageRequests)
        c.requests = v;
      else if (f == kUsageFedOut)
        c.fed_out = v;
      else if (f == kUsageFedOutBytes)
        c.fed_out_bytes = v;
      else if (f == kUsageFedIn)
        c.fed_in = v;
      else if (f == kUsageFedInBytes)
        c.fed_in_bytes = v;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace cloudillo::cache
