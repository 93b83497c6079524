// What the gateway must know to route and authenticate without an RPC per request
// (DESIGN "gateway"): tenants by id_tag, each tenant's token secrets, and resolved
// API keys. Entries are fetched over gRPC on a miss, kept in process for a short
// TTL, and dropped at once when a writer publishes on the invalidation channel.
// After a Redis reconnect everything is dropped (messages may have been missed).
//
// Lookups return Unavailable when a backend cannot answer; a missing tenant or key
// is a value (nullopt), not an error. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/core/clock.h"
#include "route_table.h"

namespace cloudillo::gateway {

struct TenantInfo {
  int64_t tn_id = 0;
  std::string id_tag;
  bool active = true;
};

struct SecretInfo {
  std::string kid, secret;
};

struct ApiKeyInfo {
  int64_t tn_id = 0;
  std::string subject, roles, scope;
  int64_t expires_at = 0;
};

class Directory {
 public:
  Directory(Backends& backends, absl::Duration rpc_timeout, const Clock& clock)
      : backends_(backends), rpc_timeout_(rpc_timeout), clock_(clock) {}

  absl::StatusOr<std::optional<TenantInfo>> Tenant(const std::string& id_tag);
  absl::StatusOr<std::vector<SecretInfo>> Secrets(int64_t tn_id);
  absl::StatusOr<std::optional<ApiKeyInfo>> ApiKey(int64_t tn_id, const std::string& key);

  // "tenant:<id_tag>", "secrets:<tn_id>", "apikeys:<tn_id>" (libs/cache/invalidation.h).
  void Invalidate(const std::string& message);
  void Clear();

 private:
  template <typename T>
  struct Entry {
    T value;
    absl::Time expires;
  };

  Backends& backends_;
  absl::Duration rpc_timeout_;
  const Clock& clock_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, Entry<std::optional<TenantInfo>>> tenants_;
  std::unordered_map<int64_t, Entry<std::vector<SecretInfo>>> secrets_;
  std::unordered_map<std::string, Entry<std::optional<ApiKeyInfo>>> api_keys_;  // by SHA-256 of the key
};

}  // namespace cloudillo::gateway
