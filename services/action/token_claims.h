// Reading action tokens for the action service: libs/crypto's action_token.h (form,
// algorithm, signature, expiry; E14, E21) plus the type name rule of §2.12, with the
// content as parsed JSON.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "action_types.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::action {

// InvalidArgument for anything DecodeActionToken refuses (a foreign alg included: no
// key can rescue it) and for a type name outside §2.12's grammar.
absl::StatusOr<Claims> DecodeClaims(std::string_view token);

// Signature (alg exactly ES384) and expiry of a token read with DecodeClaims into
// `decoded`, which is not read again. Unauthenticated on any failure.
absl::Status VerifyToken(std::string_view token, const Claims& decoded, const crypto::P384PublicKey& key,
                         absl::Time now);

// "a1~" + base64url(SHA-256(token)) (§2.2).
std::string ActionIdOf(std::string_view token);

}  // namespace cloudillo::action
