// Reading action tokens (PROTOCOL §2.1, E14, E21): the claims of an unverified token
// (to learn iss and k before fetching a key), canonical id_tags, and the full check of
// a token against its issuer's key (ES384 only, exp with 60 s leeway).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "action_types.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::action {

// InvalidArgument when the token does not decode, iss/k/t/iat are missing or of the
// wrong type, or iss/aud are not canonical id_tags.
absl::StatusOr<Claims> DecodeClaims(std::string_view token);

// E21: CanonicalIdTag(x) == x and an A-label of 5..62 characters.
bool IsCanonicalIdTag(std::string_view id_tag);

// Signature (alg exactly ES384) and expiry. Unauthenticated on any failure.
absl::Status VerifyToken(std::string_view token, const Claims& claims, const crypto::P384PublicKey& key,
                         int64_t now);

// "a1~" + base64url(SHA-256(token)) (§2.2).
std::string ActionIdOf(std::string_view token);

}  // namespace cloudillo::action
