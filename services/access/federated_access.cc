// Cross-node access (PROTOCOL §3.4, §3.5, §13.1, E6, E7): the federated
// `GET /api/auth/access-token?token=<PROXY>` exchange and `GET /api/auth/proxy-token`.
#include <nlohmann/json.hpp>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "access_service.h"
#include "cloudillo/cache/ban_list.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/server.h"

namespace cloudillo::access {
namespace {

using json = nlohmann::json;

constexpr const char* kHierarchy[] = {"public",      "follower",  "supporter",
                                      "contributor", "moderator", "leader"};

}  // namespace

std::string ExpandRoles(std::string_view roles) {
  int top = -1;
  std::vector<std::string> extras;
  for (absl::string_view r :
       absl::StrSplit(absl::string_view(roles.data(), roles.size()), ',', absl::SkipEmpty())) {
    bool known = false;
    for (int i = 0; i < 6; ++i) {
      if (r == kHierarchy[i]) {
        top = std::max(top, i);
        known = true;
      }
    }
    if (!known && std::find(extras.begin(), extras.end(), std::string(r)) == extras.end())
      extras.emplace_back(std::string(r));
  }
  std::vector<std::string> out;
  for (int i = 0; i <= top; ++i) out.emplace_back(kHierarchy[i]);
  out.insert(out.end(), extras.begin(), extras.end());
  return absl::StrJoin(out, ",");
}

void AccessService::ConnectFederation(std::shared_ptr<federation::Client> client,
                                      std::shared_ptr<federation::KeyResolver> keys) {
  keys_ = std::move(keys);
  proxy_ = std::make_unique<federation::ProxyExchange>(
      std::move(client), [this](int64_t tn_id, const std::string& aud, int64_t iat, int64_t exp) {
        return SignProxy(tn_id, aud, iat, exp);
      });
}

// Private keys never leave identity: it signs the PROXY token for us (§3.4 step 1).
absl::StatusOr<std::string> AccessService::SignProxy(int64_t tn_id, const std::string& aud, int64_t iat,
                                                     int64_t exp) {
  if (!identity_) return absl::UnavailableError("identity service not connected");
  cloudillo::v1::SignActionRequest req;
  req.set_tn_id(tn_id);
  req.mutable_claims()->set_t("PROXY");
  req.mutable_claims()->set_aud(aud);
  req.mutable_claims()->set_iat(iat);
  req.mutable_claims()->set_exp(exp);
  cloudillo::v1::SignedAction out;
  auto call = rpc::ContextWithDeadline(absl::Seconds(5));
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(identity_->SignAction(call.get(), req, &out)));
  return out.token();
}

// E7: only the roles column of the host tenant's profile row for the peer; following
// or being connected adds none, so a person peer usually gets no `r`.
absl::StatusOr<std::string> AccessService::PeerRoles(int64_t tn_id, const std::string& peer) {
  if (!identity_) return absl::UnavailableError("identity service not connected");
  cloudillo::v1::RelationshipsRequest req;
  req.set_tn_id(tn_id);
  req.add_id_tags(peer);
  cloudillo::v1::Relationships out;
  auto call = rpc::ContextWithDeadline(absl::Seconds(5));
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(identity_->GetRelationships(call.get(), req, &out)));
  for (const auto& r : out.items()) {
    if (r.id_tag() == peer && r.known()) return ExpandRoles(r.roles());
  }
  return std::string();
}

// §13.1 and E6 recommend: 403 E-AUTH-NOPERM for every refusal (an undecodable token
// included), 503 when the issuer's key cannot be fetched. Refusals count as token
// verification failures for the IP, as the inbox's bad signatures do (E24 item 8).
absl::StatusOr<ApiReply> AccessService::DoFederatedAccessToken(const ApiRequest& req,
                                                               const std::string& scope) {
  const auto& ctx = req.ctx();
  if (!keys_) return absl::UnavailableError("federation not configured");
  auto claims =
      federation::VerifyProxyToken(rpc::QueryParam(req, "token"), ctx.id_tag(), *keys_, clock_.Now());
  if (!claims.ok()) {
    if (!absl::IsPermissionDenied(claims.status())) return claims.status();
    LogInfo("proxy_token_refused",
            {{"tn_id", ctx.tn_id()}, {"reason", std::string(claims.status().message())}});
    if (auto addr = cache::ClientAddress::Parse(ctx.client_ip()); addr.ok()) {
      absl::Status st = cache::Penalize(*redis_, *addr, cache::PenaltyReason::kTokenVerificationFailure);
      if (!st.ok()) LogWarn("penalty_not_recorded", {{"error", std::string(st.message())}});
    }
    return rpc::Forbidden();
  }
  crypto::AccessClaims minted;
  minted.iss = ctx.id_tag();
  minted.sub = claims->iss;
  if (!scope.empty()) minted.scope = scope;
  CL_ASSIGN_OR_RETURN(std::string roles, PeerRoles(ctx.tn_id(), claims->iss));
  if (!roles.empty()) minted.roles = roles;
  CL_ASSIGN_OR_RETURN(std::string token, MintToken(ctx.tn_id(), minted));
  return rpc::Data(json{{"token", token}});
}

grpc::ServerUnaryReactor* AccessService::ProxyToken(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                    ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoProxyToken(*req); });
}

// §3.5: the owner (or a leader) gets a token for another node; unscoped tokens only.
absl::StatusOr<ApiReply> AccessService::DoProxyToken(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!ctx.authenticated()) return rpc::Unauthorized();
  if (!ctx.scope().empty() || ctx.auth_kind() == "api_key") return rpc::Forbidden();
  if (!rpc::IsOwner(ctx) && !rpc::HasRole(ctx.roles(), "leader")) return rpc::Forbidden();
  const std::string& id_tag = rpc::QueryParam(req, "idTag");
  if (id_tag.empty()) {
    crypto::AccessClaims claims;
    claims.iss = ctx.id_tag();
    claims.sub = ctx.subject();
    std::string roles = rpc::IsOwner(ctx) ? std::string(OwnerRoles()) : ctx.roles();
    if (!roles.empty()) claims.roles = roles;
    CL_ASSIGN_OR_RETURN(std::string token, MintToken(ctx.tn_id(), claims));
    return rpc::Data(json{{"token", token}, {"roles", RolesArray(roles)}});
  }
  auto peer = CanonicalIdTag(id_tag);
  if (!peer.ok()) return rpc::BadRequest("idTag must be a valid id_tag");
  if (!proxy_) return absl::UnavailableError("federation not configured");
  auto grant = proxy_->Get(ctx.tn_id(), *peer, clock_.Now());
  if (!grant.ok()) {
    LogInfo("proxy_token_failed",
            {{"tn_id", ctx.tn_id()}, {"peer", *peer}, {"error", std::string(grant.status().message())}});
    if (absl::IsPermissionDenied(grant.status())) return rpc::Forbidden("the peer refused access");
    if (absl::IsInvalidArgument(grant.status())) return rpc::BadRequest("idTag cannot be contacted");
    return absl::UnavailableError(grant.status().message());
  }
  return rpc::Data(json{{"token", grant->token}, {"roles", RolesArray(grant->roles)}});
}

}  // namespace cloudillo::access
