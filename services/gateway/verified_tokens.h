// Access tokens this gateway verified lately, so that a client's next request with the
// same bearer skips the HMAC and the parses of the token's header and payload (a
// quarter of the gateway's CPU on a cached file download before; most clients send
// the same token for minutes).
//
// An entry holds only for the tenant's secret set it was verified against (a new set
// after a rotation, an invalidation or the directory's TTL misses) and until the
// token expires. The key is a SHA-256 of tenant and token, so a lookup compares
// digests, never the bearer itself. Bounded (LRU); only tokens that verified are kept,
// so what a client sends without a valid token never enters it. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "auth_filter.h"
#include "cloudillo/cache/lru_map.h"
#include "directory.h"

namespace cloudillo::gateway {

class VerifiedTokens {
 public:
  static constexpr size_t kCapacity = 20000;

  explicit VerifiedTokens(size_t capacity = kCapacity) : entries_(capacity) {}

  static std::string KeyOf(int64_t tn_id, std::string_view token);

  // The caller a token stood for (before its scope is checked against the path), when
  // `key` was verified with this very `secrets` set and has not expired at `now`.
  std::optional<Caller> Find(const std::string& key, const Secrets& secrets, absl::Time now);
  void Store(const std::string& key, const Secrets& secrets, Caller caller, int64_t exp);

 private:
  struct Entry {
    std::weak_ptr<const std::vector<SecretInfo>> secrets;
    Caller caller;
    int64_t exp = 0;
  };
  std::mutex mu_;
  cache::LruMap<std::string, Entry> entries_;
};

}  // namespace cloudillo::gateway
