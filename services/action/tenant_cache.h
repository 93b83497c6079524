// The action service's copy of what the inbox asks identity for every token: a
// tenant's settings (profile.default_visibility, profile.connection_mode, ...) and its
// relationship with a peer (blocked, following, connected). Entries live `ttl` at most
// and are dropped earlier:
//   - by this process's own relationship writes, at once (DropRelationship);
//   - by identity's messages on the invalidation channel ("relations:<tn_id>",
//     "settings:<tn_id>", invalidation.h), from whichever process changed them;
//   - all of them when the Redis subscription restarts (messages may have been lost).
// So a block reaches the inbox within `ttl` even when a message is lost.
//
// Bounded: at most `max_tenants` tenants (least recently used first out), each with
// at most `max_per_tenant` peers and settings (a full tenant starts over), so neither
// a flood of issuers nor of tenants grows memory.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "cloudillo/cache/lru_map.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/v1/identity.pb.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::action {

struct TenantCacheOptions {
  absl::Duration ttl = absl::Seconds(5);  // zero: nothing is cached
  size_t max_tenants = 4096;
  size_t max_per_tenant = 512;
};

class TenantCache {
 public:
  TenantCache(const Clock& clock, TenantCacheOptions options, prometheus::Registry* registry);
  ~TenantCache();

  // Taken before asking identity and handed to Put*: an answer that was in flight while
  // an entry of its tenant was dropped is not stored (it may predate the change).
  uint64_t Generation() const;

  // nullopt: not cached. A cached peer without a profile is a present, empty optional
  // inside: {std::nullopt} means "identity has no relationship".
  std::optional<std::optional<cloudillo::v1::Relationship>> FindRelationship(int64_t tn_id,
                                                                             const std::string& id_tag);
  void PutRelationship(int64_t tn_id, const std::string& id_tag,
                       std::optional<cloudillo::v1::Relationship> rel, uint64_t generation);
  std::optional<std::string> FindSetting(int64_t tn_id, const std::string& key);
  void PutSetting(int64_t tn_id, const std::string& key, std::string value_json, uint64_t generation);

  void DropRelationship(int64_t tn_id, const std::string& id_tag);
  void DropRelationships(int64_t tn_id);
  void DropSettings(int64_t tn_id);
  // A message of the invalidation channel; others' messages are ignored.
  void OnInvalidation(const std::string& message);
  void Clear();

 private:
  struct Rel {
    std::optional<cloudillo::v1::Relationship> rel;
    absl::Time expires;
  };
  struct Setting {
    std::string value;
    absl::Time expires;
  };
  struct Tenant {
    absl::flat_hash_map<std::string, Rel> rels;
    absl::flat_hash_map<std::string, Setting> settings;
  };
  struct Metrics;
  Tenant* Slot(int64_t tn_id, uint64_t generation);
  void Count(bool relationship, bool hit);

  const Clock& clock_;
  TenantCacheOptions options_;
  std::unique_ptr<Metrics> metrics_;
  mutable std::mutex mu_;
  cache::LruMap<int64_t, Tenant> tenants_;
  uint64_t generation_ = 0;
};

}  // namespace cloudillo::action
