#include "reply_cache.h"

namespace cloudillo::gateway {

bool ReplyCache::Stale(const std::string& tag, int64_t tn_id, uint64_t since) {
  uint64_t* tagged = invalidated_.Find(tag);
  uint64_t* changed = tenant_changed_.Find(tn_id);
  return since < cleared_at_ || (tagged && *tagged > since) || (changed && *changed > since);
}

std::optional<cloudillo::v1::ApiReply> ReplyCache::Find(const std::string& key, int64_t tn_id, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = entries_.Find(key);
  if (!e) return std::nullopt;
  if (e->expires <= now || e->tn_id != tn_id || Stale(e->tag, e->tn_id, e->stored_at)) {
    entries_.Erase(key);
    return std::nullopt;
  }
  return e->reply;
}

uint64_t ReplyCache::Generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void ReplyCache::Store(const std::string& key, int64_t tn_id, const cloudillo::v1::ApiReply& reply,
                       uint64_t generation, absl::Time now) {
  const auto& policy = reply.cache();
  if (policy.max_age_ms() <= 0 || policy.tag().empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  // Invalidated after the call began: the reply may predate the change.
  if (Stale(policy.tag(), tn_id, generation)) return;
  Entry e{reply, policy.tag(), now + std::min(kMaxAge, absl::Milliseconds(policy.max_age_ms())), tn_id,
          generation_};
  e.reply.clear_cache();
  entries_.Put(key, std::move(e));
}

void ReplyCache::Invalidate(const std::string& tag) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  invalidated_.Put(tag, generation_);
}

void ReplyCache::TenantChanged(int64_t tn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  tenant_changed_.Put(tn_id, generation_);
}

void ReplyCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  cleared_at_ = generation_;
  entries_.Clear();
}

}  // namespace cloudillo::gateway
