// The tenant's own profile as /api/me, /api/me/full and login answers show it
// (PROTOCOL §1.4, Appendix C.7), kept rendered in memory: every peer polls /api/me,
// and the authenticated /api/me/full is the busiest route, so a hit costs no query
// and no JSON building.
//
// Entries live until a change invalidates them (Forget: locally and, through Redis
// pub/sub `profile:<tn>`, on every identity replica) or for kTtl at most (a missed
// message heals). Bounded LRU; a load racing with an invalidation does not put the
// stale snapshot back (generation check). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/cache/lru_map.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/db/pool.h"
#include "signing_keys.h"

namespace cloudillo::identity {

struct TenantRow {
  int64_t tn_id = 0;
  std::string id_tag, type, status, name, profile_pic, cover_pic, created_at;
  std::string email;  // never rendered into a profile; login-init shows it masked
  nlohmann::json x = nlohmann::json::object();
};

struct Viewer;

// PermissionDenied for an unknown tenant (PROTOCOL §9.1).
absl::StatusOr<TenantRow> LoadTenant(db::Pool& pool, int64_t tn_id);

// idTag, name, type and profilePic (omitted when unset): the head of every own-profile
// shape, in the order the /api/me ETag hashes.
nlohmann::ordered_json ProfileHead(const TenantRow& t);

struct ProfileSnapshot {
  TenantRow tenant;
  std::vector<PublicKeyInfo> keys;
  std::string me_json, me_etag;       // GET /api/me data and its ETag (PROTOCOL E15)
  std::string full_owner_json;        // GET /api/me/full data for the owner
  std::string full_public_json;       // ... for an anonymous caller
  bool relationship_markers = false;  // some section is for followers or connections
  absl::Time fetched;
};

// GET /api/me/full data as `viewer` sees it (profile_sections.h).
std::string FullJsonFor(const ProfileSnapshot& snap, const Viewer& viewer);

class ProfileCache {
 public:
  static constexpr absl::Duration kTtl = absl::Minutes(5);
  static constexpr size_t kCapacity = 100000;

  ProfileCache(db::Pool& pool, const SigningKeys& keys, const Clock& clock,
               std::shared_ptr<cache::Redis> redis);

  // Never blocks: the live snapshot, or nullptr.
  std::shared_ptr<const ProfileSnapshot> Cached(int64_t tn_id);
  // Loads on a miss (two queries; blocking, so only on a worker thread).
  absl::StatusOr<std::shared_ptr<const ProfileSnapshot>> Get(int64_t tn_id);
  // After a change: drops it here and tells the other replicas.
  void Forget(int64_t tn_id);
  // A message of the invalidation channel ("profile:<tn>"; others are ignored).
  void OnInvalidation(const std::string& message);
  // After a reconnect of the subscriber (messages may have been missed).
  void Clear();

 private:
  struct Entry {
    std::shared_ptr<const ProfileSnapshot> snap;
  };
  void Drop(int64_t tn_id);

  db::Pool& pool_;
  const SigningKeys& keys_;
  const Clock& clock_;
  std::shared_ptr<cache::Redis> redis_;
  std::mutex mu_;
  cache::LruMap<int64_t, Entry> entries_{kCapacity};
  uint64_t generation_ = 0;  // bumped by every drop; a load started before one is not stored
};

}  // namespace cloudillo::identity
