// Issuer keys for verifying action tokens (PROTOCOL §1.5, E2, E12).
//
// Key(iss, key_id, iat) answers from an in-process LRU, then Redis
// ("fedkey:<iss>:<keyId>", shared by every tenant and replica), then fetches
// `GET https://cl-o.<iss>/api/me` without auth, requires `idTag == iss`, and caches every
// listed key. A failure is cached too (Redis and process): a missing key, 404, 401/403 or
// an unparsable body for 1 h, a network error or timeout for 5 min; while cached, Key()
// answers Unavailable at once without fetching ("fedkeyfail:<iss>:<keyId>" in Redis).
// An issuer is fetched at most once per `min_fetch_interval` (1 min): within it, other
// key ids are answered from that fetch, so tokens with made-up key ids cannot make us
// hammer a peer. `expiresAt` is honoured only for tokens issued after it (rotation-safe,
// E12). Refetch(iss, key_id) after a signature failure fetches again unless the last
// fetch of that issuer was within `min_fetch_interval`, and reports whether the key
// changed (Unauthenticated if the issuer no longer lists it).
//
// Status codes (every key-fetch failure is 503 to a caller, E2 recommend):
//   Unavailable      any fetch failure, cached failure, Redis down with no fetch possible
//   Unauthenticated  the issuer answered but does not list key_id (also cached); iat is
//                    after the key's expiresAt; key_id is not 1..64 of [A-Za-z0-9._-]
//   InvalidArgument  iss not canonical
// Blocking: worker threads only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::cache {
class Redis;
}

namespace cloudillo::federation {

class Client;

class KeyResolver {
 public:
  struct Options {
    size_t max_entries = 10000;  // process LRU of keys and of failures, each
    // No issuer is fetched twice within this (Key() answers from the last fetch,
    // Refetch() reports no change). Tests shorten it.
    absl::Duration min_fetch_interval = absl::Minutes(1);
  };
  static std::shared_ptr<KeyResolver> Create(std::shared_ptr<Client> client,
                                             std::shared_ptr<cache::Redis> redis, Options options);
  virtual ~KeyResolver() = default;

  virtual absl::StatusOr<crypto::P384PublicKey> Key(std::string_view iss, std::string_view key_id,
                                                    int64_t iat) = 0;
  // True when a fresh fetch returned a different key for (iss, key_id).
  virtual absl::StatusOr<bool> Refetch(std::string_view iss, std::string_view key_id) = 0;
};

}  // namespace cloudillo::federation
