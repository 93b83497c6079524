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
// A tenant's rendered own profile in identity (name, pictures, keys, status).
inline std::string ProfileInvalidation(int64_t tn_id) { return "profile:" + std::to_string(tn_id); }
// A ban set or lifted on an address key ("ipv4:1.2.3.4", "ipv4:1.2.3.0/24", ...).
inline std::string BanInvalidation(const std::string& address_key) { return "ban:" + address_key; }
// Every cached API key of a tenant (deletion, change).
inline std::string ApiKeysInvalidation(int64_t tn_id) { return "apikeys:" + std::to_string(tn_id); }

}  // namespace cloudillo::cache
