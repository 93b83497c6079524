// The keys an issuer publishes in `GET /api/me` (PROTOCOL §1.4, §1.5): the body is the
// REST envelope {"data": ProfileBase}; its `idTag` must equal the issuer asked (E12
// recommend: a peer cannot publish keys for another id_tag), and each
// {keyId, publicKey (standard base64 SPKI), expiresAt?} entry must be a P-384 key.
//
// Entries that do not parse are skipped rather than failing the whole profile, so one
// bad key cannot hide the others; at most kMaxKeys entries are read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cloudillo::federation {

struct PublishedKey {
  std::string key_id;
  std::string spki_der;
  std::optional<int64_t> expires_at;  // unix seconds; none: never expires
};

inline constexpr size_t kMaxKeys = 64;

// A key id as tokens carry it (`k`): 1..64 of [A-Za-z0-9._-]. Anything else cannot be
// looked up, cached or put into a Redis key.
bool ValidKeyId(std::string_view key_id);

// InvalidArgument when the body is not an enveloped ProfileBase, PermissionDenied when
// its idTag is not `iss`.
absl::StatusOr<std::vector<PublishedKey>> ParseProfileKeys(std::string_view body, std::string_view iss);

}  // namespace cloudillo::federation
