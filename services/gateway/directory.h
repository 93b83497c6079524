// What the gateway must know to route and authenticate without an RPC per request
// (DESIGN "gateway"): tenants by id_tag, each tenant's token secrets, and resolved API
// keys. Entries are fetched over gRPC on a miss and kept in process; writers publish
// on the invalidation channel and every gateway drops the named entries at once.
//
// Never blocks: Try*() answer from memory, Fetch*() answer later on a gRPC thread
// (callers post back to their request's strand). Bounded under attack:
//   - every cache is an LRU of fixed capacity; unknown tenants and invalid keys live
//     in their own, smaller LRUs, so a flood of made-up names evicts only made-up names;
//   - concurrent misses for one key share one fetch (coalescing), and at most
//     kMaxPendingFetches fetches run at once (beyond: Unavailable, a 503);
//   - an invalidation that arrives while a fetch is in flight marks it stale: its
//     answer is given to the waiting requests but not cached (generation check);
//   - a token naming an unknown `kid` may force one refresh of that tenant's secrets,
//     at most once per kForcedRefreshInterval.
// A lookup that fails (backend unreachable) is Unavailable; an unknown tenant or key is
// a value (nullopt), not an error. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/v1/access.grpc.pb.h"
#include "cloudillo/v1/identity.grpc.pb.h"

namespace cloudillo::gateway {

struct TenantInfo {
  int64_t tn_id = 0;
  std::string id_tag;
  bool active = true;
  // The tenant's plan's request quotas (identity's ResolveTenant); 0: none.
  int32_t requests_per_minute = 0;
  int32_t requests_per_day = 0;
};

struct SecretInfo {
  std::string kid, secret;
};
// Shared and immutable: a cache hit hands out a reference, not a copy of the strings.
using Secrets = std::shared_ptr<const std::vector<SecretInfo>>;

struct ApiKeyInfo {
  int64_t tn_id = 0;
  int64_t key_id = 0;
  std::string subject, roles, scope;
  int64_t expires_at = 0;
};

struct DirectoryBackends {
  std::unique_ptr<cloudillo::v1::Identity::Stub> identity;
  std::unique_ptr<cloudillo::v1::Access::Stub> access;
};

class Directory {
 public:
  static constexpr size_t kTenantCapacity = 100000;
  static constexpr size_t kUnknownTenantCapacity = 10000;
  static constexpr size_t kSecretsCapacity = 100000;
  static constexpr size_t kApiKeyCapacity = 50000;
  static constexpr size_t kInvalidKeyCapacity = 10000;
  static constexpr size_t kMaxPendingFetches = 10000;
  static constexpr absl::Duration kForcedRefreshInterval = absl::Seconds(5);

  Directory(DirectoryBackends backends, absl::Duration rpc_timeout, const Clock& clock);
  ~Directory();

  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  std::optional<std::optional<TenantInfo>> TryTenant(const std::string& id_tag);
  void FetchTenant(const std::string& id_tag, Done<std::optional<TenantInfo>> done);

  std::optional<Secrets> TrySecrets(int64_t tn_id);
  void FetchSecrets(int64_t tn_id, Done<Secrets> done);
  // For a token whose kid is not among the cached secrets: false when a refresh of
  // this tenant ran too recently (then the kid is unknown).
  bool RefreshSecrets(int64_t tn_id, Done<Secrets> done);

  // `key` is the plaintext `cl_…` bearer; only its SHA-256 is kept.
  std::optional<std::optional<ApiKeyInfo>> TryApiKey(int64_t tn_id, const std::string& key);
  void FetchApiKey(int64_t tn_id, const std::string& key, Done<std::optional<ApiKeyInfo>> done);

  // "tenant:<id_tag>", "secrets:<tn_id>", "apikeys:<tn_id>" (libs/cache/invalidation.h);
  // other messages are ignored.
  void Invalidate(const std::string& message);
  // After the subscriber reconnects: messages may have been missed.
  void Clear();

 private:
  struct State;
  // Shared with the callbacks of RPCs in flight, which may outlive the Directory.
  std::shared_ptr<State> state_;
};

}  // namespace cloudillo::gateway
