// Edge replies the owning service marked reusable (common.proto CachePolicy), kept so
// that the busiest read routes (/api/me for every peer, /api/me/full for every open
// client) cost no backend call while nothing changed. The key is everything the reply
// may depend on: route, tenant, query, If-None-Match and, when the service says so,
// the caller. Every other step of a request (limits, tenant, bearer) still runs.
//
// An entry lives until its tag is published on the invalidation channel, its
// max-age passes, or the LRU (bounded) forgets it. A reply fetched while its tag was
// invalidated is not kept (generation check), and a subscriber reset drops
// everything. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "cloudillo/cache/lru_map.h"
#include "cloudillo/v1/common.pb.h"

namespace cloudillo::gateway {

class ReplyCache {
 public:
  static constexpr size_t kCapacity = 50000;
  static constexpr absl::Duration kMaxAge = absl::Minutes(5);

  // `byte_budget` bounds the bytes of the kept bodies as well as their number: the
  // file-download instance holds whole small files (Gateway::downloads_).
  explicit ReplyCache(size_t capacity = kCapacity, size_t byte_budget = SIZE_MAX);

  // Shared and immutable: a hit is not a copy of the body.
  std::shared_ptr<const cloudillo::v1::ApiReply> Find(const std::string& key, int64_t tn_id, absl::Time now);
  // The generation to hand back to Store: taken before the backend call.
  uint64_t Generation() const;
  void Store(const std::string& key, int64_t tn_id, const cloudillo::v1::ApiReply& reply, uint64_t generation,
             absl::Time now);
  // A request that changed something of the tenant went through this gateway: its
  // entries are no longer trusted (read-your-writes here, without waiting for the
  // service's invalidation message to come back through Redis).
  void TenantChanged(int64_t tn_id);
  // A message of the invalidation channel: drops every entry with that tag.
  void Invalidate(const std::string& tag);
  void Clear();
  // Bytes of the kept entries (keys and bodies).
  size_t Bytes() const;

 private:
  struct Entry {
    std::shared_ptr<const cloudillo::v1::ApiReply> reply;
    std::string tag;
    absl::Time expires;
    int64_t tn_id;
    uint64_t checked_at;  // generation at which it was last known fresh
    size_t bytes;         // key and body, counted against byte_budget_
  };
  bool Stale(const std::string& tag, int64_t tn_id, uint64_t since);
  void Drop(const std::string& key, const Entry& e);
  mutable std::mutex mu_;
  const size_t byte_budget_;
  size_t bytes_ = 0;
  cache::LruMap<std::string, Entry> entries_;
  // When each recently invalidated tag was invalidated. Checked on lookup, so an
  // invalidation costs O(1) whatever the number of entries; bounded, and entries
  // live at most kMaxAge, so a tag is remembered for as long as it matters.
  cache::LruMap<std::string, uint64_t> invalidated_{kCapacity};
  cache::LruMap<int64_t, uint64_t> tenant_changed_{kCapacity};
  uint64_t generation_ = 0;
  // Entries last known fresh before it are stale: set by a Clear, or when an
  // invalidation record had to be forgotten to stay bounded.
  uint64_t cleared_at_ = 0;
};

}  // namespace cloudillo::gateway
