#include "cloudillo/cache/ban_list.h"

#include "absl/time/clock.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::cache {
namespace {

constexpr size_t kMaxPendingLookups = 10000;

// PTTL of the address's ban and of its network's: -2 none, -1 permanent, else ms.
constexpr char kBanStateScript[] = "return {redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2])}";

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

absl::Status Penalize(Redis& redis, const ClientAddress& addr, PenaltyReason reason) {
  PenaltyRule rule = RuleFor(reason);
  std::string key = std::string("pen:") + rule.name + ":" + addr.individual;
  CL_ASSIGN_OR_RETURN(Reply count, redis.Command({"INCR", key}));
  CL_RETURN_IF_ERROR(redis.Command({"EXPIRE", key, "3600", "NX"}).status());
  if (count.integer < rule.threshold) return absl::OkStatus();
  // The ban covers the address and its whole network (Appendix D item 25).
  std::string secs = std::to_string(rule.ban_secs);
  CL_RETURN_IF_ERROR(redis.Command({"SET", "ban:" + addr.individual, rule.name, "EX", secs}).status());
  CL_RETURN_IF_ERROR(redis.Command({"SET", "ban:" + addr.network, rule.name, "EX", secs}).status());
  CL_RETURN_IF_ERROR(redis.Command({"DEL", key}).status());
  CL_RETURN_IF_ERROR(redis.Publish(kInvalidationChannel, BanInvalidation(addr.individual)));
  return redis.Publish(kInvalidationChannel, BanInvalidation(addr.network));
}

absl::Status LiftBan(Redis& redis, const ClientAddress& addr) {
  CL_RETURN_IF_ERROR(redis.Command({"DEL", "ban:" + addr.individual, "ban:" + addr.network}).status());
  CL_RETURN_IF_ERROR(redis.Publish(kInvalidationChannel, BanInvalidation(addr.individual)));
  return redis.Publish(kInvalidationChannel, BanInvalidation(addr.network));
}

BanList::BanList(std::shared_ptr<Redis> redis, size_t capacity)
    : redis_(std::move(redis)), shared_(std::make_shared<Shared>(capacity)) {}

BanList::State BanList::Check(const ClientAddress& addr, std::function<void()> ready) {
  if (!redis_) return {};
  absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (Entry* e = shared_->entries.Find(addr.individual); e && e->valid_until > now) {
      if (e->banned_until <= now) return {};
      int64_t left = e->banned_until == absl::InfiniteFuture() ? -1 : absl::ToInt64Seconds(e->banned_until - now);
      return {State::kBanned, left};
    }
    auto it = shared_->pending.find(addr.individual);
    if (it != shared_->pending.end()) {
      it->second.push_back(std::move(ready));
      return {State::kUnknown, 0};
    }
    // Too many addresses being looked up at once: let this one through unchecked
    // rather than queue without bound (limits fail open).
    if (shared_->pending.size() >= kMaxPendingLookups) return {};
    shared_->pending[addr.individual].push_back(std::move(ready));
  }
  redis_->ScriptAsync(kBanStateScript, {"ban:" + addr.individual, "ban:" + addr.network}, {},
                      [shared = shared_, addr](absl::StatusOr<Reply> reply) {
                        absl::Time now = absl::Now();
                        Entry e{addr.network, absl::InfinitePast(), now + kClearTtl};
                        if (reply.ok() && reply->type == Reply::Type::kArray && reply->elements.size() == 2) {
                          for (const Reply& r : reply->elements) {
                            if (r.integer == -1) {
                              e.banned_until = absl::InfiniteFuture();
                            } else if (r.integer >= 0) {
                              e.banned_until = std::max(e.banned_until, now + absl::Milliseconds(r.integer));
                            }
                          }
                          if (e.banned_until > now) e.valid_until = e.banned_until;
                        } else {
                          e.valid_until = now + kUnknownTtl;
                        }
                        std::vector<std::function<void()>> waiters;
                        {
                          std::lock_guard<std::mutex> lock(shared->mu);
                          shared->entries.Put(addr.individual, e);
                          auto it = shared->pending.find(addr.individual);
                          if (it != shared->pending.end()) {
                            waiters = std::move(it->second);
                            shared->pending.erase(it);
                          }
                        }
                        for (auto& w : waiters) w();
                      });
  return {State::kUnknown, 0};
}

void BanList::OnInvalidation(const std::string& message) {
  constexpr std::string_view kPrefix = "ban:";
  if (message.compare(0, kPrefix.size(), kPrefix) != 0) return;
  std::string key = message.substr(kPrefix.size());
  std::lock_guard<std::mutex> lock(shared_->mu);
  // A network's ban touches every address of it we know (a scan, but bans are rare).
  shared_->entries.EraseIf([&](const std::string& ind, const Entry& e) { return ind == key || e.network == key; });
}

void BanList::Clear() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->entries.Clear();
}

}  // namespace cloudillo::cache
