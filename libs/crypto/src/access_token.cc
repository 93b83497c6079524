#include "cloudillo/crypto/access_token.h"

#include <nlohmann/json.hpp>

#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/jws.h"
#include "jws_parsed.h"

namespace cloudillo::crypto {
namespace {
using json = nlohmann::json;
constexpr int64_t kLeewaySeconds = 60;

std::optional<std::string> OptString(const json& j, const char* key, bool* bad) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    *bad = true;
    return std::nullopt;
  }
  return it->get<std::string>();
}
}  // namespace

// The reference's AccessToken struct order (E7): iss, sub, scope, r, exp.
std::string AccessClaimsJson(const AccessClaims& c) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["iss"] = c.iss;
  if (c.sub) j["sub"] = *c.sub;
  if (c.scope) j["scope"] = *c.scope;
  if (c.roles) j["r"] = *c.roles;
  if (c.api_key_id) j["ak"] = *c.api_key_id;
  j["exp"] = c.exp;
  return j.dump();
}

std::string SignAccessToken(const AccessClaims& c, std::string_view secret, std::string_view kid) {
  return SignHs256(AccessClaimsJson(c), secret, kid);
}

absl::StatusOr<AccessClaims> VerifyAccessToken(
    std::string_view token, std::string_view expected_iss, absl::Time now,
    const std::function<std::optional<std::string>(std::string_view)>& secret_for_kid) {
  json j;
  CL_RETURN_IF_ERROR(VerifyHs256(token, secret_for_kid, &j).status());
  AccessClaims c;
  auto iss = j.find("iss");
  if (iss == j.end() || !iss->is_string()) return absl::UnauthenticatedError("token has no issuer");
  c.iss = iss->get<std::string>();
  auto exp = j.find("exp");
  if (exp == j.end() || !exp->is_number_integer()) return absl::UnauthenticatedError("token has no expiry");
  c.exp = exp->get<int64_t>();
  bool bad = false;
  c.sub = OptString(j, "sub", &bad);
  c.scope = OptString(j, "scope", &bad);
  c.roles = OptString(j, "r", &bad);
  if (auto ak = j.find("ak"); ak != j.end()) {
    if (!ak->is_number_integer()) return absl::UnauthenticatedError("token claim has the wrong type");
    c.api_key_id = ak->get<int64_t>();
  }
  if (bad) return absl::UnauthenticatedError("token claim has the wrong type");
  if (AccessTokenExpired(c.exp, now)) return absl::UnauthenticatedError("token expired");
  if (c.iss != expected_iss) return absl::UnauthenticatedError("token issued for another tenant");
  return c;
}

bool AccessTokenExpired(int64_t exp, absl::Time now) {
  return absl::ToUnixSeconds(now) > exp + kLeewaySeconds;
}

}  // namespace cloudillo::crypto
