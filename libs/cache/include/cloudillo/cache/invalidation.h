// The cluster-wide cache invalidation channel (DESIGN: "hot reads are cached in
// process and invalidated through Redis pub/sub"). Writers publish after commit;
// every gateway drops the named entries. Messages are "<kind>:<key>".
#pragma once

#include <cstdint>
#include <string>

namespace cloudillo::cache {

inline constexpr char kInvalidationChannel[] = "cloudillo:invalidate";

// Tenant lookup by id_tag (status change, deletion).
inline std::string TenantInvalidation(const std::string& id_tag) { return "tenant:" + id_tag; }
// Token secrets of a tenant (rotation).
inline std::string SecretsInvalidation(int64_t tn_id) { return "secrets:" + std::to_string(tn_id); }
// Every cached API key of a tenant (deletion, change).
inline std::string ApiKeysInvalidation(int64_t tn_id) { return "apikeys:" + std::to_string(tn_id); }

}  // namespace cloudillo::cache
