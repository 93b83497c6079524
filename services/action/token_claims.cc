#include "token_claims.h"

#include "cloudillo/core/id_tag.h"
#include "cloudillo/crypto/action_token.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

// libs/crypto checks the token's form; this adds the type name rule (§2.12) and
// gives the content as parsed JSON.
absl::StatusOr<Claims> FromCrypto(const crypto::ActionClaims& a) {
  Claims c;
  c.iss = a.iss;
  c.k = a.k;
  c.t = a.t;
  if (a.c) {
    json content = json::parse(*a.c, nullptr, false);
    if (content.is_discarded()) return absl::InvalidArgumentError("c is not JSON");
    c.c = std::move(content);
  }
  c.p = a.p.value_or("");
  c.a = a.a.value_or(std::vector<std::string>{});
  c.aud = a.aud.value_or("");
  c.sub = a.sub.value_or("");
  c.iat = a.iat;
  c.exp = a.exp.value_or(0);
  c.has_exp = a.exp.has_value();
  c.f = a.f.value_or("");
  c.v = a.v.value_or("");
  c.pow = a.pow.value_or("");
  if (!ValidTypeName(c.t)) return absl::InvalidArgumentError("invalid action type");
  return c;
}

}  // namespace

absl::StatusOr<Claims> DecodeClaims(std::string_view token) {
  auto decoded = crypto::DecodeActionToken(token);
  if (!decoded.ok()) return absl::InvalidArgumentError(decoded.status().message());
  return FromCrypto(*decoded);
}

absl::Status VerifyToken(std::string_view token, const Claims& decoded, const crypto::P384PublicKey& key,
                         absl::Time now) {
  std::optional<int64_t> exp;
  if (decoded.has_exp) exp = decoded.exp;
  absl::Status st = crypto::VerifyActionTokenSignature(token, exp, key, now);
  if (!st.ok()) return absl::UnauthenticatedError(st.message());
  return absl::OkStatus();
}

std::string ActionIdOf(std::string_view token) { return crypto::ActionId(token); }

}  // namespace cloudillo::action
