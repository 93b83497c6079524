#include "cloudillo/crypto/action_token.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/crypto/jws.h"

namespace cloudillo::crypto {
namespace {

// Insertion-ordered, so a signed payload keeps §2.1's claim order and a decoded `c`
// the key order it was sent with.
using json = nlohmann::ordered_json;

constexpr int64_t kLeewaySeconds = 60;

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError("action token: " + std::string(what));
}

bool IsOneCharacter(const std::string& s) {
  // The reference reads `v` as a Rust char: one code point, whatever its byte length.
  if (s.empty()) return false;
  size_t code_points = 0;
  for (unsigned char b : s) code_points += (b & 0xC0) != 0x80;
  return code_points == 1;
}

// A JSON object whose top-level keys are all distinct: the reference decodes into a
// struct, which fails on a repeated field, and two readers must never disagree on
// which of two `iss` values counts.
std::optional<json> ParseClaimsObject(const std::string& text) {
  bool repeated = false;
  std::unordered_set<std::string> seen;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second) {
      repeated = true;
    }
    return true;
  };
  json j = json::parse(text, cb, /*allow_exceptions=*/false);
  if (repeated || !j.is_object()) return std::nullopt;
  return j;
}

// Unix seconds from an integer or an RFC 3339 string (the reference's Timestamp).
std::optional<int64_t> TimestampOf(const json& v) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return int64_t(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(absl::RFC3339_full, v.get_ref<const std::string&>(), &t, &err)) {
      return absl::ToUnixSeconds(t);
    }
  }
  return std::nullopt;
}

class ClaimReader {
 public:
  explicit ClaimReader(const json& j) : j_(j) {}

  // Absent and null read as nullopt; any other non-string marks the claims bad.
  std::optional<std::string> String(const char* name) {
    const json* v = Find(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) return Bad(name);
    return v->get<std::string>();
  }
  std::optional<int64_t> Timestamp(const char* name) {
    const json* v = Find(name);
    if (!v) return std::nullopt;
    auto t = TimestampOf(*v);
    if (!t) Bad(name);
    return t;
  }
  std::optional<std::vector<std::string>> Strings(const char* name) {
    const json* v = Find(name);
    if (!v) return std::nullopt;
    if (!v->is_array()) return Bad(name);
    std::vector<std::string> out;
    for (const json& item : *v) {
      if (!item.is_string()) return Bad(name);
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  std::optional<std::string> RawJson(const char* name) {
    const json* v = Find(name);
    return v ? std::optional<std::string>(v->dump()) : std::nullopt;
  }
  // The first claim found bad, or "" when all were fine.
  const char* bad() const { return bad_; }

 private:
  const json* Find(const char* name) const {
    auto it = j_.find(name);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  std::nullopt_t Bad(const char* name) {
    if (!*bad_) bad_ = name;
    return std::nullopt;
  }
  const json& j_;
  const char* bad_ = "";
};

absl::StatusOr<ActionClaims> ClaimsFromPayload(const std::string& payload_json) {
  std::optional<json> j = ParseClaimsObject(payload_json);
  if (!j) return Malformed("claims are not a JSON object with distinct keys");
  ClaimReader r(*j);
  std::optional<std::string> iss = r.String("iss"), k = r.String("k"), t = r.String("t");
  std::optional<int64_t> iat = r.Timestamp("iat");
  ActionClaims c;
  c.c = r.RawJson("c");
  c.p = r.String("p");
  c.a = r.Strings("a");
  c.aud = r.String("aud");
  c.sub = r.String("sub");
  c.exp = r.Timestamp("exp");
  c.f = r.String("f");
  c.v = r.String("v");
  c.pow = r.String("_");
  if (*r.bad()) return Malformed(std::string("claim \"") + r.bad() + "\" has the wrong type");
  if (!iss || !k || !t || !iat) return Malformed("iss, k, t and iat are required");
  if (c.v && !IsOneCharacter(*c.v)) return Malformed("claim \"v\" must be one character");
  c.iss = *std::move(iss);
  c.k = *std::move(k);
  c.t = *std::move(t);
  c.iat = *iat;
  // Checked before any key is fetched: a non-canonical name must not cause a request.
  if (!IsCanonicalIdTag(c.iss)) return Malformed("iss is not a canonical id_tag");
  if (c.aud && !IsCanonicalIdTag(*c.aud)) return Malformed("aud is not a canonical id_tag");
  return c;
}

}  // namespace

absl::StatusOr<std::string> ActionClaimsJson(const ActionClaims& c) {
  if (!IsCanonicalIdTag(c.iss)) return Malformed("iss is not a canonical id_tag");
  if (c.aud && !IsCanonicalIdTag(*c.aud)) return Malformed("aud is not a canonical id_tag");
  if (c.v && !IsOneCharacter(*c.v)) return Malformed("claim \"v\" must be one character");
  json j = json::object();
  j["iss"] = c.iss;
  j["k"] = c.k;
  j["t"] = c.t;
  if (c.c) {
    json content = json::parse(*c.c, nullptr, /*allow_exceptions=*/false);
    if (content.is_discarded()) return Malformed("claim \"c\" is not JSON");
    j["c"] = std::move(content);
  }
  if (c.p) j["p"] = *c.p;
  if (c.a) j["a"] = *c.a;
  if (c.aud) j["aud"] = *c.aud;
  if (c.sub) j["sub"] = *c.sub;
  j["iat"] = c.iat;
  if (c.exp) j["exp"] = *c.exp;
  if (c.f) j["f"] = *c.f;
  if (c.v) j["v"] = *c.v;
  if (c.pow) j["_"] = *c.pow;
  try {
    return j.dump();
  } catch (const json::exception&) {  // dump's only failure: a string that is not UTF-8
    return Malformed("a claim is not UTF-8");
  }
}

absl::StatusOr<std::string> SignActionToken(const ActionClaims& claims, const P384PrivateKey& key) {
  CL_ASSIGN_OR_RETURN(std::string payload, ActionClaimsJson(claims));
  return SignEs384(payload, key);
}

std::string ActionId(std::string_view token) { return ContentId("a", token); }

absl::StatusOr<ActionClaims> DecodeActionToken(std::string_view token) {
  CL_ASSIGN_OR_RETURN(VerifiedJws jws, DecodeUnverified(token, "ES384"));
  return ClaimsFromPayload(jws.payload_json);
}

absl::StatusOr<ActionClaims> VerifyActionToken(std::string_view token, const P384PublicKey& key,
                                               absl::Time now) {
  // Claims first: they are cheap, and a token they refuse is not worth a verification.
  CL_ASSIGN_OR_RETURN(ActionClaims claims, DecodeActionToken(token));
  CL_RETURN_IF_ERROR(VerifyActionTokenSignature(token, claims.exp, key, now));
  return claims;
}

absl::Status VerifyActionTokenSignature(std::string_view token, std::optional<int64_t> exp,
                                        const P384PublicKey& key, absl::Time now) {
  CL_RETURN_IF_ERROR(VerifyEs384Signature(token, key));
  if (exp && absl::ToUnixSeconds(now) - kLeewaySeconds > *exp) {
    return absl::UnauthenticatedError("action token expired");
  }
  return absl::OkStatus();
}

}  // namespace cloudillo::crypto
