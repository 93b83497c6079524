// Local access tokens (PROTOCOL §3.1, §13.2, §13.12): HS256 JWTs with claims
// iss (tenant id_tag), sub? (acting identity), scope?, r? (comma-separated roles), exp,
// and our own ak? (the id of the API key the token was minted from: such a token can
// do no more than the key itself; only the issuing node reads tokens, so peers never
// see it).
// Absent claims are omitted, never null. The header carries `kid`, naming the tenant
// secret, so tokens made before a rotation keep verifying until they expire.
//
// VerifyAccessToken() returns:
//   - InvalidArgument / Unauthenticated from jws.h for malformed, wrong-alg or bad-signature tokens;
//   - Unauthenticated when exp is missing or not an integer, or when now > exp + leeway (60 s);
//   - PermissionDenied is never returned: `iss != expected_iss` is Unauthenticated too (a 401, Appendix D
//   item 4).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cloudillo::crypto {

struct AccessClaims {
  std::string iss;
  std::optional<std::string> sub;
  std::optional<std::string> scope;
  std::optional<std::string> roles;   // claim "r"
  std::optional<int64_t> api_key_id;  // claim "ak"
  int64_t exp = 0;

  // The identity the token acts for: `sub`, else `iss` (PROTOCOL §3.1).
  const std::string& Subject() const { return sub ? *sub : iss; }
};

std::string AccessClaimsJson(const AccessClaims& c);
std::string SignAccessToken(const AccessClaims& c, std::string_view secret, std::string_view kid);

absl::StatusOr<AccessClaims> VerifyAccessToken(
    std::string_view token, std::string_view expected_iss, absl::Time now,
    const std::function<std::optional<std::string>(std::string_view kid)>& secret_for_kid);

// Whether a token expiring at `exp` (Unix seconds) is past it at `now`, with the
// leeway VerifyAccessToken allows for clocks apart: for callers that keep a verified
// token and must drop it when it would no longer verify.
bool AccessTokenExpired(int64_t exp, absl::Time now);

}  // namespace cloudillo::crypto
