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
// A tenant's relationships with peers (follow, connect, block) in identity, cached by
// the action service's inbox; and a tenant's settings, cached there too.
inline constexpr char kRelationsPrefix[] = "relations:";
inline std::string RelationsInvalidation(int64_t tn_id) { return kRelationsPrefix + std::to_string(tn_id); }
inline constexpr char kSettingsPrefix[] = "settings:";
inline std::string SettingsInvalidation(int64_t tn_id) { return kSettingsPrefix + std::to_string(tn_id); }
// A ban set or lifted on an address key ("ipv4:1.2.3.4", "ipv4:1.2.3.0/24", ...).
inline std::string BanInvalidation(const std::string& address_key) { return "ban:" + address_key; }
// Every cached API key of a tenant (deletion, change).
inline std::string ApiKeysInvalidation(int64_t tn_id) { return "apikeys:" + std::to_string(tn_id); }

// Not an invalidation: wakes the requests a gateway holds for `tag` (WaitPolicy in
// common.proto), e.g. a QR login's status poll once the session was answered.
inline constexpr char kWakePrefix[] = "wake:";
inline std::string WakeMessage(const std::string& tag) { return kWakePrefix + tag; }
// A QR login session of a tenant.
inline std::string QrSessionTag(int64_t tn_id, const std::string& session) {
  return "qr:" + std::to_string(tn_id) + ":" + session;
}

}  // namespace cloudillo::cache
