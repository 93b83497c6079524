// Identity's internal methods for the action service (identity.proto "action: ..."):
// signing action tokens with the tenant's newest key, the relationship rows federation
// reads and changes, broadcast recipients and the settings federation reads.
#include <nlohmann/json.hpp>

#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/random.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/action_token.h"
#include "cloudillo/db/sql_text.h"
#include "identity_service.h"
#include "settings_registry.h"

namespace cloudillo::identity {
namespace {

constexpr int kMaxIdTagsPerCall = 1000;
constexpr int kMaxFollowersPage = 1000;
constexpr int kMaxPow = 4;

crypto::ActionClaims FromProto(const std::string& iss, const std::string& kid,
                               const cloudillo::v1::ActionClaims& c) {
  crypto::ActionClaims a;
  a.iss = iss;
  a.k = kid;
  a.t = c.t();
  auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  if (!c.c_json().empty() && c.c_json() != "null") a.c = c.c_json();
  a.p = opt(c.p());
  if (c.a_size() > 0) a.a = std::vector<std::string>(c.a().begin(), c.a().end());
  a.aud = opt(c.aud());
  a.sub = opt(c.sub());
  a.iat = c.iat();
  if (c.exp() != 0) a.exp = c.exp();
  a.f = opt(c.f());
  a.v = opt(c.v());
  a.pow = opt(c.pow());
  return a;
}

}  // namespace

grpc::ServerUnaryReactor* IdentityService::SignAction(grpc::CallbackServerContext* ctx,
                                                      const cloudillo::v1::SignActionRequest* req,
                                                      cloudillo::v1::SignedAction* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::SignedAction> {
    CL_ASSIGN_OR_RETURN(auto snap, profiles_.Get(req->tn_id()));
    CL_ASSIGN_OR_RETURN(auto signer, keys_.Signer(*pool_, req->tn_id()));
    int pow = req->pow_required();
    if (pow < 0 || pow > kMaxPow) return absl::InvalidArgumentError("proof of work too large");
    cloudillo::v1::ActionClaims claims = req->claims();
    std::string token;
    const std::string suffix(size_t(pow), 'A');
    // Each signature's last character carries 6 random bits (ECDSA nonces are random),
    // so about 64^pow tries; the bound keeps a bad request from spinning forever.
    for (int64_t attempt = 0;; ++attempt) {
      if (pow > 0) {
        if (attempt > (int64_t(1) << (6 * pow + 4)))
          return absl::ResourceExhaustedError("proof of work not found");
        claims.set_pow(RandomAlnum(8));
      }
      CL_ASSIGN_OR_RETURN(token, crypto::SignActionToken(FromProto(snap->tenant.id_tag, signer.first, claims),
                                                         signer.second));
      if (token.size() >= suffix.size() &&
          token.compare(token.size() - suffix.size(), suffix.size(), suffix) == 0)
        break;
    }
    cloudillo::v1::SignedAction s;
    s.set_token(std::move(token));
    s.set_key_id(signer.first);
    return s;
  });
}

grpc::ServerUnaryReactor* IdentityService::GetRelationships(grpc::CallbackServerContext* ctx,
                                                            const cloudillo::v1::RelationshipsRequest* req,
                                                            cloudillo::v1::Relationships* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Relationships> {
    if (req->id_tags_size() > kMaxIdTagsPerCall) return absl::InvalidArgumentError("too many id_tags");
    std::vector<std::string> tags(req->id_tags().begin(), req->id_tags().end());
    CL_ASSIGN_OR_RETURN(
        db::Result r,
        pool_->Query("SELECT id_tag, name, type, coalesce(profile_pic, ''), coalesce(status, ''), "
                     "connected, following, follower, coalesce(roles, '') FROM profiles "
                     "WHERE tn_id = $1 AND id_tag = ANY($2::text[])",
                     {db::P(req->tn_id()), db::P(db::TextArrayLiteral(tags))}));
    std::map<std::string, const db::Row*> found;
    for (const db::Row& row : r.rows) found[row.Str(0)] = &row;
    cloudillo::v1::Relationships reply;
    for (const std::string& tag : tags) {
      auto* item = reply.add_items();
      item->set_id_tag(tag);
      auto it = found.find(tag);
      if (it == found.end()) continue;
      const db::Row& row = *it->second;
      item->set_known(true);
      item->set_name(row.Str(1));
      item->set_type(row.Str(2));
      item->set_profile_pic(row.Str(3));
      item->set_status(row.Str(4));
      item->set_connected(row.Bool(5));
      item->set_following(row.Bool(6));
      item->set_follower(row.Bool(7));
      item->set_roles(row.Str(8));
    }
    return reply;
  });
}

grpc::ServerUnaryReactor* IdentityService::UpdateRelationship(grpc::CallbackServerContext* ctx,
                                                              const cloudillo::v1::RelationshipUpdate* req,
                                                              cloudillo::v1::Empty* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Empty> {
    auto canonical = CanonicalIdTag(req->id_tag());
    if (!canonical.ok() || *canonical != req->id_tag())
      return absl::InvalidArgumentError("id_tag not canonical");
    std::string type = req->type() == "community" ? "community" : "person";
    std::string name = req->name().empty() ? req->id_tag() : req->name();
    // One statement: create the row if needed, then apply only the fields given.
    CL_RETURN_IF_ERROR(
        pool_
            ->Query(
                "INSERT INTO profiles (tn_id, id_tag, name, type, connected, following, follower, roles) "
                "VALUES ($1, $2, $3, $4, coalesce($5, false), coalesce($6, false), coalesce($7, false), "
                "nullif($8, '')) "
                "ON CONFLICT (tn_id, id_tag) DO UPDATE SET "
                "connected = coalesce($5, profiles.connected), following = coalesce($6, profiles.following), "
                "follower = coalesce($7, profiles.follower), "
                "roles = CASE WHEN $9 THEN nullif($8, '') ELSE profiles.roles END",
                {db::P(req->tn_id()), db::P(req->id_tag()), db::P(name), db::P(type),
                 req->has_connected() ? db::P(req->connected()) : db::Null(),
                 req->has_following() ? db::P(req->following()) : db::Null(),
                 req->has_follower() ? db::P(req->follower()) : db::Null(), db::P(req->roles()),
                 db::P(req->has_roles())})
            .status());
    // /api/me/full answers depend on the caller's relationship and are reused by the
    // gateway until the profile tag is published.
    profiles_.Forget(req->tn_id());
    // The action service's inbox caches relationships (blocked issuers among them).
    Announce(cache::RelationsInvalidation(req->tn_id()));
    return cloudillo::v1::Empty();
  });
}

grpc::ServerUnaryReactor* IdentityService::ListFollowers(grpc::CallbackServerContext* ctx,
                                                         const cloudillo::v1::FollowersRequest* req,
                                                         cloudillo::v1::FollowersReply* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::FollowersReply> {
    int limit = std::clamp(req->limit() <= 0 ? kMaxFollowersPage : req->limit(), 1, kMaxFollowersPage);
    // PROTOCOL §2.5: followers, without the suspended, blocked and banned.
    CL_ASSIGN_OR_RETURN(db::Result r,
                        pool_->Query("SELECT id_tag FROM profiles WHERE tn_id = $1 AND follower "
                                     "AND coalesce(status, '') NOT IN ('S', 'B', 'X') "
                                     "AND id_tag > $2 ORDER BY id_tag LIMIT $3",
                                     {db::P(req->tn_id()), db::P(req->after_id_tag()), db::P(limit)}));
    cloudillo::v1::FollowersReply reply;
    for (const db::Row& row : r.rows) reply.add_id_tags(row.Str(0));
    return reply;
  });
}

grpc::ServerUnaryReactor* IdentityService::GetTenantSettings(grpc::CallbackServerContext* ctx,
                                                             const cloudillo::v1::TenantSettingsRequest* req,
                                                             cloudillo::v1::TenantSettingsReply* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::TenantSettingsReply> {
    if (req->keys_size() > 64) return absl::InvalidArgumentError("too many keys");
    std::vector<std::string> keys(req->keys().begin(), req->keys().end());
    // The tenant's value, else the provider-wide one (tn_id 0), else the default.
    CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("SELECT DISTINCT ON (key) key, value FROM settings "
                                                   "WHERE tn_id IN ($1, 0) AND key = ANY($2::text[]) "
                                                   "ORDER BY key, tn_id DESC",
                                                   {db::P(req->tn_id()), db::P(db::TextArrayLiteral(keys))}));
    cloudillo::v1::TenantSettingsReply reply;
    for (const std::string& key : keys) {
      if (IsSecretSetting(key)) continue;
      const SettingDef* def = FindSetting(key);
      if (def && def->default_json) (*reply.mutable_values_json())[key] = *def->default_json;
    }
    for (const db::Row& row : r.rows) {
      if (!IsSecretSetting(row.Str(0))) (*reply.mutable_values_json())[row.Str(0)] = row.Str(1);
    }
    return reply;
  });
}

}  // namespace cloudillo::identity
