#include "profile_keys.h"

#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::federation {
namespace {

// expiresAt is an ISO 8601 / RFC 3339 string in the reference; a number of seconds is
// accepted too. Null or absent: never. Anything else makes the entry unusable.
bool ParseExpiry(const nlohmann::json& entry, std::optional<int64_t>& out) {
  auto it = entry.find("expiresAt");
  if (it == entry.end() || it->is_null()) return true;
  if (it->is_number_integer()) {
    out = it->get<int64_t>();
    return true;
  }
  if (!it->is_string()) return false;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, it->get_ref<const std::string&>(), &t, &err)) return false;
  out = absl::ToUnixSeconds(t);
  return true;
}

}  // namespace

bool ValidKeyId(std::string_view key_id) {
  if (key_id.empty() || key_id.size() > 64) return false;
  for (char c : key_id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<std::vector<PublishedKey>> ParseProfileKeys(std::string_view body, std::string_view iss) {
  nlohmann::json doc = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return absl::InvalidArgumentError("/api/me: not a JSON object");
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) return absl::InvalidArgumentError("/api/me: no data object");
  auto id_tag = data->find("idTag");
  if (id_tag == data->end() || !id_tag->is_string()) return absl::InvalidArgumentError("/api/me: no idTag");
  if (id_tag->get_ref<const std::string&>() != iss)
    return absl::PermissionDeniedError("/api/me: idTag is not the issuer asked");
  auto keys = data->find("keys");
  if (keys == data->end() || !keys->is_array()) return absl::InvalidArgumentError("/api/me: no keys array");
  std::vector<PublishedKey> out;
  for (const auto& entry : *keys) {
    if (out.size() >= kMaxKeys) break;
    if (!entry.is_object()) continue;
    auto key_id = entry.find("keyId");
    auto public_key = entry.find("publicKey");
    if (key_id == entry.end() || !key_id->is_string() || public_key == entry.end() ||
        !public_key->is_string())
      continue;
    PublishedKey k;
    k.key_id = key_id->get<std::string>();
    if (!ValidKeyId(k.key_id) || !ParseExpiry(entry, k.expires_at)) continue;
    auto parsed = crypto::P384PublicKey::FromBase64Spki(public_key->get_ref<const std::string&>());
    if (!parsed.ok()) continue;
    k.spki_der = parsed->SpkiDer();
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace cloudillo::federation
