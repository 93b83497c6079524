#include "token_claims.h"

#include "absl/time/time.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/crypto/jws.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

constexpr int64_t kExpLeeway = 60;

// An integer, or an RFC 3339 string as the reference's Timestamp accepts (E14).
bool ReadTime(const json& v, int64_t* out) {
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(INT64_MAX)) return false;
    *out = int64_t(u);
    return true;
  }
  if (!v.is_string()) return false;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, v.get<std::string>(), &t, &err)) return false;
  *out = absl::ToUnixSeconds(t);
  return true;
}

bool ReadString(const json& obj, const char* key, std::string* out, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return !required;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return !required || !out->empty();
}

}  // namespace

bool IsCanonicalIdTag(std::string_view id_tag) {
  auto canonical = CanonicalIdTag(id_tag);
  if (!canonical.ok() || *canonical != id_tag) return false;
  auto ascii = IdTagToAscii(id_tag);
  return ascii.ok() && ascii->size() >= 5 && ascii->size() <= 62;
}

absl::StatusOr<Claims> DecodeClaims(std::string_view token) {
  auto decoded = crypto::DecodeUnverified(token);
  if (!decoded.ok()) return absl::InvalidArgumentError("token does not decode");
  json p = json::parse(decoded->payload_json, nullptr, false);
  if (!p.is_object()) return absl::InvalidArgumentError("token payload is not an object");
  Claims c;
  if (!ReadString(p, "iss", &c.iss, true) || !ReadString(p, "k", &c.k, true) ||
      !ReadString(p, "t", &c.t, true)) {
    return absl::InvalidArgumentError("token lacks iss, k or t");
  }
  if (!p.contains("iat") || !ReadTime(p["iat"], &c.iat)) return absl::InvalidArgumentError("token lacks iat");
  if (p.contains("exp") && !p["exp"].is_null() && !ReadTime(p["exp"], &c.exp)) {
    return absl::InvalidArgumentError("exp is not a timestamp");
  }
  if (!ReadString(p, "p", &c.p, false) || !ReadString(p, "aud", &c.aud, false) ||
      !ReadString(p, "sub", &c.sub, false) || !ReadString(p, "f", &c.f, false) ||
      !ReadString(p, "v", &c.v, false) || !ReadString(p, "_", &c.pow, false)) {
    return absl::InvalidArgumentError("a claim has the wrong type");
  }
  if (!c.v.empty() && c.v.size() != 1) return absl::InvalidArgumentError("v must be one character");
  if (auto it = p.find("a"); it != p.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("a must be an array");
    for (const json& e : *it) {
      if (!e.is_string()) return absl::InvalidArgumentError("a must hold strings");
      c.a.push_back(e.get<std::string>());
    }
  }
  if (auto it = p.find("c"); it != p.end() && !it->is_null()) c.c = *it;
  if (!IsCanonicalIdTag(c.iss))
    return absl::InvalidArgumentError("invalid issuer id_tag: " + c.iss.substr(0, 100));
  if (!c.aud.empty() && !IsCanonicalIdTag(c.aud)) {
    return absl::InvalidArgumentError("invalid audience id_tag: " + c.aud.substr(0, 100));
  }
  if (!ValidTypeName(c.t)) return absl::InvalidArgumentError("invalid action type");
  return c;
}

absl::Status VerifyToken(std::string_view token, const Claims& claims, const crypto::P384PublicKey& key,
                         int64_t now) {
  auto verified = crypto::VerifyEs384(token, key);
  if (!verified.ok()) return absl::UnauthenticatedError("signature invalid");
  if (claims.exp != 0 && now > claims.exp + kExpLeeway) return absl::UnauthenticatedError("token expired");
  return absl::OkStatus();
}

std::string ActionIdOf(std::string_view token) { return "a1~" + Base64UrlEncode(crypto::Sha256(token)); }

}  // namespace cloudillo::action
