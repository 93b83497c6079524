#include "cloudillo/crypto/jws.h"

#include <nlohmann/json.hpp>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"
#include "jws_parsed.h"

namespace cloudillo::crypto {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxTokenSize = 64 * 1024;

struct Parts {
  std::string_view signing_input;
  std::string header_json;
  std::string payload_json;
  std::string signature;
  json header;
  json payload;
};

absl::StatusOr<Parts> Split(std::string_view token) {
  if (token.size() > kMaxTokenSize) return absl::InvalidArgumentError("token too large");
  size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return absl::InvalidArgumentError("token is not a compact JWS");
  size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("token is not a compact JWS");
  }
  Parts p;
  p.signing_input = token.substr(0, d2);
  auto h = Base64UrlDecode(token.substr(0, d1));
  auto b = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto s = Base64UrlDecode(token.substr(d2 + 1));
  if (!h.ok() || !b.ok() || !s.ok()) return absl::InvalidArgumentError("token segment is not base64url");
  p.header_json = *std::move(h);
  p.payload_json = *std::move(b);
  p.signature = *std::move(s);
  p.header = json::parse(p.header_json, nullptr, /*allow_exceptions=*/false);
  if (!p.header.is_object()) return absl::InvalidArgumentError("token header is not a JSON object");
  p.payload = json::parse(p.payload_json, nullptr, false);
  if (!p.payload.is_object()) return absl::InvalidArgumentError("token payload is not a JSON object");
  return p;
}

absl::Status CheckAlg(const json& header, std::string_view expected) {
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != expected) {
    return absl::UnauthenticatedError("token algorithm not accepted");
  }
  if (header.contains("crit")) return absl::UnauthenticatedError("token has critical headers");
  return absl::OkStatus();
}

std::string KidOf(const json& header) {
  auto kid = header.find("kid");
  return kid != header.end() && kid->is_string() ? kid->get<std::string>() : std::string();
}

}  // namespace

std::string SignHs256(std::string_view payload_json, std::string_view key, std::string_view kid) {
  std::string header = kid.empty() ? R"({"typ":"JWT","alg":"HS256"})"
                                   : json({{"typ", "JWT"}, {"alg", "HS256"}, {"kid", kid}}).dump();
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload_json);
  std::string sig = HmacSha256(key, input);
  return input + "." + Base64UrlEncode(sig);
}

absl::StatusOr<VerifiedJws> VerifyHs256(
    std::string_view token, const std::function<std::optional<std::string>(std::string_view)>& key_for_kid) {
  return VerifyHs256(token, key_for_kid, nullptr);
}

absl::StatusOr<VerifiedJws> VerifyHs256(
    std::string_view token, const std::function<std::optional<std::string>(std::string_view)>& key_for_kid,
    json* payload) {
  CL_ASSIGN_OR_RETURN(Parts p, Split(token));
  CL_RETURN_IF_ERROR(CheckAlg(p.header, "HS256"));
  std::string kid = KidOf(p.header);
  std::optional<std::string> key = key_for_kid(kid);
  if (!key) return absl::UnauthenticatedError("unknown token key");
  if (!ConstantTimeEqual(HmacSha256(*key, p.signing_input), p.signature)) {
    return absl::UnauthenticatedError("bad token signature");
  }
  if (payload) *payload = std::move(p.payload);
  return VerifiedJws{std::move(p.header_json), std::move(p.payload_json), std::move(kid)};
}

absl::StatusOr<std::string> SignEs384(std::string_view payload_json, const P384PrivateKey& key) {
  std::string input = Base64UrlEncode(R"({"typ":"JWT","alg":"ES384"})") + "." + Base64UrlEncode(payload_json);
  CL_ASSIGN_OR_RETURN(std::string sig, key.Sign(input));
  return input + "." + Base64UrlEncode(sig);
}

absl::StatusOr<VerifiedJws> VerifyEs384(std::string_view token, const P384PublicKey& key) {
  CL_ASSIGN_OR_RETURN(Parts p, Split(token));
  CL_RETURN_IF_ERROR(CheckAlg(p.header, "ES384"));
  if (!key.Verify(p.signing_input, p.signature)) return absl::UnauthenticatedError("bad token signature");
  return VerifiedJws{std::move(p.header_json), std::move(p.payload_json), KidOf(p.header)};
}

absl::Status VerifyEs384Signature(std::string_view token, const P384PublicKey& key) {
  if (token.size() > kMaxTokenSize) return absl::InvalidArgumentError("token too large");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("token is not a compact JWS");
  }
  auto h = Base64UrlDecode(token.substr(0, d1));
  auto s = Base64UrlDecode(token.substr(d2 + 1));
  if (!h.ok() || !s.ok()) return absl::InvalidArgumentError("token segment is not base64url");
  json header = json::parse(*h, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return absl::InvalidArgumentError("token header is not a JSON object");
  CL_RETURN_IF_ERROR(CheckAlg(header, "ES384"));
  if (!key.Verify(token.substr(0, d2), *s)) return absl::UnauthenticatedError("bad token signature");
  return absl::OkStatus();
}

absl::StatusOr<VerifiedJws> DecodeUnverified(std::string_view token) {
  CL_ASSIGN_OR_RETURN(Parts p, Split(token));
  return VerifiedJws{std::move(p.header_json), std::move(p.payload_json), KidOf(p.header)};
}

absl::StatusOr<VerifiedJws> DecodeUnverified(std::string_view token, std::string_view required_alg) {
  CL_ASSIGN_OR_RETURN(Parts p, Split(token));
  CL_RETURN_IF_ERROR(CheckAlg(p.header, required_alg));
  return VerifiedJws{std::move(p.header_json), std::move(p.payload_json), KidOf(p.header)};
}

}  // namespace cloudillo::crypto
