// Federation action tokens (PROTOCOL §2.1, §2.2; Appendix E3, E14, E21).
//
// SignActionToken() emits the header {"typ":"JWT","alg":"ES384"} and the claims in
// §2.1's order iss,k,t,c,p,a,aud,sub,iat,exp,f,v,_ with absent ones left out (never
// null). It refuses (InvalidArgument) what a peer would reject: a non-canonical iss or
// aud, a `v` that is not one character, a `c` that is not JSON, text that is not UTF-8.
//
// DecodeActionToken() reads a token without verifying it, to learn iss and k before
// the issuer's key is fetched. It already refuses everything no key can rescue:
//   - InvalidArgument: not a compact JWS; header or payload not a JSON object; a claim
//     repeated or of the wrong type; iss, k, t or iat missing (E14); iss or aud not a
//     canonical id_tag (E21);
//   - Unauthenticated: an alg other than ES384 ("none", ES256, HS256, ...) or a "crit"
//     header.
// VerifyActionToken() does the same, then checks the signature with `key` and, when
// exp is present, that now <= exp + 60 s (jsonwebtoken's leeway): Unauthenticated when
// either fails. `aud` is only checked for form; who it must name is the caller's rule.
//
// iat and exp may arrive as integers or RFC 3339 strings (E14); they are returned as
// Unix seconds and always signed as integers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::crypto {

struct ActionClaims {
  std::string iss;                            // issuer id_tag
  std::string k;                              // signing key id, "YYMMDD"
  std::string t;                              // "TYPE" or "TYPE:SUBTYPE"
  std::optional<std::string> c;               // content as compact JSON text; JSON null reads as absent
  std::optional<std::string> p;               // parent action id
  std::optional<std::vector<std::string>> a;  // attachment file ids
  std::optional<std::string> aud;             // audience id_tag
  std::optional<std::string> sub;             // subject: action id, file id or "@idTag"
  int64_t iat = 0;                            // issued at, Unix seconds
  std::optional<int64_t> exp;                 // expiry, Unix seconds
  std::optional<std::string> f;               // flags
  std::optional<std::string> v;               // visibility, one character
  std::optional<std::string> pow;             // claim "_": the proof-of-work nonce of CONN tokens
};

// The payload as signed: compact JSON in §2.1's claim order.
absl::StatusOr<std::string> ActionClaimsJson(const ActionClaims& claims);
absl::StatusOr<std::string> SignActionToken(const ActionClaims& claims, const P384PrivateKey& key);

// "a1~" + base64url(SHA-256(token)) over the token exactly as received (§2.2).
std::string ActionId(std::string_view token);

absl::StatusOr<ActionClaims> DecodeActionToken(std::string_view token);
absl::StatusOr<ActionClaims> VerifyActionToken(std::string_view token, const P384PublicKey& key,
                                               absl::Time now);
// VerifyActionToken's signature and expiry checks for a token its caller has already
// read with DecodeActionToken (`exp` is from those claims), so the payload is not
// decoded again.
absl::Status VerifyActionTokenSignature(std::string_view token, std::optional<int64_t> exp,
                                        const P384PublicKey& key, absl::Time now);

}  // namespace cloudillo::crypto
