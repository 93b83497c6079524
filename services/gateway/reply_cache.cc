#include "reply_cache.h"

namespace cloudillo::gateway {

ReplyCache::ReplyCache(size_t capacity, size_t byte_budget) : byte_budget_(byte_budget), entries_(capacity) {}

void ReplyCache::Drop(const std::string& key, const Entry& e) {
  bytes_ -= e.bytes;
  entries_.Erase(key);
}

bool ReplyCache::Stale(const std::string& tag, int64_t tn_id, uint64_t since) {
  uint64_t* tagged = invalidated_.Find(tag);
  uint64_t* changed = tenant_changed_.Find(tn_id);
  return since < cleared_at_ || (tagged && *tagged > since) || (changed && *changed > since);
}

std::shared_ptr<const cloudillo::v1::ApiReply> ReplyCache::Find(const std::string& key, int64_t tn_id,
                                                                absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = entries_.Find(key);
  if (!e) return nullptr;
  if (e->expires <= now || e->tn_id != tn_id) {
    Drop(key, *e);
    return nullptr;
  }
  // Nothing was invalidated since the entry was last found fresh: no lookups needed.
  if (e->checked_at != generation_) {
    if (Stale(e->tag, e->tn_id, e->checked_at)) {
      Drop(key, *e);
      return nullptr;
    }
    e->checked_at = generation_;  // any later invalidation has a larger generation
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
  const size_t bytes = key.size() + reply.data_json().size() + reply.extra_json().size();
  if (bytes > byte_budget_) return;
  if (Entry* old = entries_.Find(key)) Drop(key, *old);
  // Room by bytes and by count, oldest first (a Put over capacity would evict one
  // entry without telling us its size).
  while (entries_.size() > 0 && (byte_budget_ - bytes_ < bytes || entries_.size() >= entries_.capacity())) {
    bytes_ -= entries_.Oldest()->bytes;
    entries_.EraseOldest();
  }
  auto kept = std::make_shared<cloudillo::v1::ApiReply>(reply);
  kept->clear_cache();
  bytes_ += bytes;
  entries_.Put(key, Entry{std::move(kept), policy.tag(),
                          now + std::min(kMaxAge, absl::Milliseconds(policy.max_age_ms())), tn_id,
                          generation_, bytes});
}

size_t ReplyCache::Bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void ReplyCache::Invalidate(const std::string& tag) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  // Forgetting the oldest record would let an entry it invalidated live on: treat
  // everything cached so far as stale instead (entries go when next found).
  if (invalidated_.size() == invalidated_.capacity() && !invalidated_.Find(tag)) cleared_at_ = generation_;
  invalidated_.Put(tag, generation_);
}

void ReplyCache::TenantChanged(int64_t tn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  if (tenant_changed_.size() == tenant_changed_.capacity() && !tenant_changed_.Find(tn_id)) {
    cleared_at_ = generation_;
  }
  tenant_changed_.Put(tn_id, generation_);
}

void ReplyCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  cleared_at_ = generation_;
  entries_.Clear();
  bytes_ = 0;
}

}  // namespace cloudillo::gateway
