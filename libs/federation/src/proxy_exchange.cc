#include "cloudillo/federation/proxy_exchange.h"

#include <nlohmann/json.hpp>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/federation/key_resolver.h"

namespace cloudillo::federation {
namespace {

using json = nlohmann::json;

absl::Status Refused(const std::string& why) {
  return absl::PermissionDeniedError("PROXY token refused: " + why);
}

}  // namespace

absl::Status CheckProxyClaims(const crypto::ActionClaims& c, std::string_view host_tenant, int64_t now) {
  if (c.t != "PROXY") return Refused("t is not PROXY");
  if (!c.aud || *c.aud != host_tenant) return Refused("aud is not this tenant");
  if (!c.exp) return Refused("exp missing");
  if (*c.exp + kProxyLeeway < now) return Refused("expired");
  if (*c.exp > now + kProxyMaxAhead) return Refused("exp too far ahead");
  return absl::OkStatus();
}

absl::StatusOr<crypto::ActionClaims> VerifyProxyToken(std::string_view token, std::string_view host_tenant,
                                                      KeyResolver& keys, absl::Time now) {
  auto decoded = crypto::DecodeActionToken(token);
  if (!decoded.ok()) return Refused(std::string(decoded.status().message()));
  CL_RETURN_IF_ERROR(CheckProxyClaims(*decoded, host_tenant, absl::ToUnixSeconds(now)));
  auto key = keys.Key(decoded->iss, decoded->k, decoded->iat);
  if (!key.ok()) {
    if (absl::IsUnavailable(key.status())) return key.status();
    return Refused(std::string(key.status().message()));
  }
  auto verified = crypto::VerifyActionToken(token, *key, now);
  if (!verified.ok()) {
    // A cached key may be stale (the issuer re-created its key under the same id):
    // one refetch, as the inbox does (E12).
    auto changed = keys.Refetch(decoded->iss, decoded->k);
    if (changed.ok() && *changed) {
      key = keys.Key(decoded->iss, decoded->k, decoded->iat);
      if (key.ok()) verified = crypto::VerifyActionToken(token, *key, now);
    }
  }
  if (!verified.ok()) return Refused(std::string(verified.status().message()));
  // The signature covers the same claims we checked, but check the verified copy.
  CL_RETURN_IF_ERROR(CheckProxyClaims(*verified, host_tenant, absl::ToUnixSeconds(now)));
  return verified;
}

absl::StatusOr<ProxyGrant> ReadGrant(std::string_view token) {
  size_t a = token.find('.');
  size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos) return absl::InvalidArgumentError("peer token is not a JWT");
  CL_ASSIGN_OR_RETURN(std::string payload, Base64UrlDecode(token.substr(a + 1, b - a - 1)));
  json p = json::parse(payload, nullptr, false);
  if (!p.is_object() || !p.contains("exp") || !p["exp"].is_number_integer())
    return absl::InvalidArgumentError("peer token has no integer exp");
  ProxyGrant g;
  g.token = std::string(token);
  g.exp = p["exp"].get<int64_t>();
  if (auto r = p.find("r"); r != p.end() && r->is_string()) g.roles = r->get<std::string>();
  return g;
}

ProxyExchange::ProxyExchange(std::shared_ptr<Client> client, Signer signer, size_t max_entries)
    : client_(std::move(client)), signer_(std::move(signer)), max_entries_(max_entries) {}

absl::StatusOr<ProxyGrant> ProxyExchange::Get(int64_t tn_id, const std::string& peer, absl::Time now) {
  const int64_t t = absl::ToUnixSeconds(now);
  const auto key = std::make_pair(tn_id, peer);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.exp - 60 > t) return it->second;
  }
  CL_ASSIGN_OR_RETURN(std::string proxy, signer_(tn_id, peer, t, t + kProxyLifetime));
  CL_ASSIGN_OR_RETURN(Response resp, client_->Get(peer, "/api/auth/access-token?token=" + proxy));
  if (resp.status >= 400 && resp.status < 500)
    return absl::PermissionDeniedError("peer refused the PROXY token: HTTP " + std::to_string(resp.status));
  if (resp.status != 200)
    return absl::UnavailableError("peer access-token answered HTTP " + std::to_string(resp.status));
  json body = json::parse(resp.body, nullptr, false);
  if (!body.is_object() || !body.contains("data") || !body["data"].is_object() ||
      !body["data"].contains("token") || !body["data"]["token"].is_string())
    return absl::UnavailableError("peer access-token answer has no data.token");
  auto grant = ReadGrant(body["data"]["token"].get<std::string>());
  if (!grant.ok()) return absl::UnavailableError(grant.status().message());
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() >= max_entries_) {
    // Bounded: drop what has expired, and everything if that is not enough.
    for (auto it = cache_.begin(); it != cache_.end();)
      it = it->second.exp - 60 <= t ? cache_.erase(it) : ++it;
    if (cache_.size() >= max_entries_) cache_.clear();
  }
  cache_[key] = *grant;
  return *grant;
}

void ProxyExchange::Forget(int64_t tn_id, const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.erase(std::make_pair(tn_id, peer));
}

}  // namespace cloudillo::federation
