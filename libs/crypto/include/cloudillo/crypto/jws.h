// Compact JWS with one fixed algorithm per token type (PROTOCOL §2.1, §3.1).
//
// Signing emits the header {"typ":"JWT","alg":"<alg>"} (plus "kid" for HS256 when
// given). Verification parses strictly and checks, in order:
//   - exactly three base64url segments without padding (InvalidArgument);
//   - a JSON-object header whose "alg" is exactly the expected one: "none", another
//     algorithm or a missing alg are Unauthenticated; a "crit" header is refused;
//   - the signature (Unauthenticated on mismatch);
//   - a JSON-object payload (InvalidArgument).
// Claim checks (exp, iss, aud) belong to the caller; see access_token.h.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::crypto {

struct VerifiedJws {
  std::string header_json;
  std::string payload_json;
  std::string kid;  // empty when the header has none
};

std::string SignHs256(std::string_view payload_json, std::string_view key, std::string_view kid = {});

// `key_for_kid` returns the HMAC key for the header's kid ("" when absent), or nullopt.
absl::StatusOr<VerifiedJws> VerifyHs256(
    std::string_view token,
    const std::function<std::optional<std::string>(std::string_view kid)>& key_for_kid);

absl::StatusOr<std::string> SignEs384(std::string_view payload_json, const P384PrivateKey& key);
absl::StatusOr<VerifiedJws> VerifyEs384(std::string_view token, const P384PublicKey& key);
// VerifyEs384's checks except the payload's form, which is neither decoded nor parsed:
// for a caller that has read the payload already (DecodeUnverified).
absl::Status VerifyEs384Signature(std::string_view token, const P384PublicKey& key);

// Splits and decodes without verifying (to read `iss`/`k` before fetching a key).
absl::StatusOr<VerifiedJws> DecodeUnverified(std::string_view token);
// The same, refusing (Unauthenticated) a header whose alg is not `required_alg` or that
// has "crit", as the Verify functions would: no key is worth fetching for such a token.
absl::StatusOr<VerifiedJws> DecodeUnverified(std::string_view token, std::string_view required_alg);

}  // namespace cloudillo::crypto
