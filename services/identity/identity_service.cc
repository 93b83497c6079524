// Tenant lookups and the profile routes (PROTOCOL §1.4, Appendix C.7-C.9).
#include "identity_service.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/db/sql_text.h"
#include "cloudillo/rpc/api.h"
#include "masked_email.h"
#include "profile_sections.h"

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// If-None-Match: one tag, quoted or not (Rust peers send it unquoted), a weak tag or
// a list also match (PROTOCOL E15 recommendation).
bool EtagMatches(const std::string& header, const std::string& tag) {
  for (absl::string_view part : absl::StrSplit(AV(header), ',')) {
    std::string_view p = SV(absl::StripAsciiWhitespace(part));
    if (p.size() > 2 && p.substr(0, 2) == "W/") p.remove_prefix(2);
    if (p.size() >= 2 && p.front() == '"' && p.back() == '"') p = p.substr(1, p.size() - 2);
    if (p == tag) return true;
  }
  return false;
}

const std::string& Header(const ApiRequest& req, const std::string& name) {
  static const std::string kEmpty;
  auto it = req.headers().find(name);
  return it == req.headers().end() ? kEmpty : it->second;
}

}  // namespace

IdentityService::IdentityService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                                 const crypto::MasterKey& master, const Clock& clock,
                                 rpc::WorkerPool& workers)
    : pool_(std::move(pool)),
      redis_(std::move(redis)),
      clock_(clock),
      workers_(workers),
      keys_(master),
      profiles_(*pool_, keys_, clock_, redis_) {}

grpc::ServerUnaryReactor* IdentityService::ResolveTenant(grpc::CallbackServerContext* ctx,
                                                         const cloudillo::v1::ResolveTenantRequest* req,
                                                         cloudillo::v1::Tenant* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Tenant> {
    // The plan's limits travel with the tenant: the gateway and blob enforce them
    // from their tenant caches, without reading this schema.
    CL_ASSIGN_OR_RETURN(
        db::Result r,
        pool_->Query("SELECT t.tn_id, t.id_tag, t.type, t.status, t.name, coalesce(t.plan, ''), "
                     "coalesce(p.storage_bytes, 0), coalesce(p.requests_per_minute, 0), "
                     "coalesce(p.requests_per_day, 0) FROM tenants t LEFT JOIN plans p ON "
                     "p.name = t.plan WHERE t.id_tag = $1",
                     {db::P(req->id_tag())}));
    if (r.empty()) return absl::NotFoundError("no such tenant");
    const db::Row& row = r.rows[0];
    cloudillo::v1::Tenant t;
    t.set_tn_id(row.Int(0));
    t.set_id_tag(row.Str(1));
    t.set_type(row.Str(2));
    t.set_status(row.Str(3));
    t.set_name(row.Str(4));
    t.set_plan(row.Str(5));
    t.set_storage_quota_bytes(row.Int(6));
    t.set_requests_per_minute(int32_t(row.Int(7)));
    t.set_requests_per_day(int32_t(row.Int(8)));
    return t;
  });
}

grpc::ServerUnaryReactor* IdentityService::GetLoginProfile(grpc::CallbackServerContext* ctx,
                                                           const cloudillo::v1::TenantRef* req,
                                                           cloudillo::v1::LoginProfile* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::LoginProfile> {
    CL_ASSIGN_OR_RETURN(auto snap, profiles_.Get(req->tn_id()));
    const TenantRow& t = snap->tenant;
    cloudillo::v1::LoginProfile p;
    p.set_tn_id(t.tn_id);
    p.set_id_tag(t.id_tag);
    p.set_name(t.name.empty() ? t.id_tag : t.name);
    p.set_profile_pic(t.profile_pic);
    if (auto masked = MaskEmail(t.email)) p.set_masked_email(*masked);
    return p;
  });
}

grpc::ServerUnaryReactor* IdentityService::SetProfileImage(grpc::CallbackServerContext* ctx,
                                                           const cloudillo::v1::SetProfileImageRequest* req,
                                                           cloudillo::v1::Empty* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::Empty> {
    // The blob service checked the file id; identity only stores which file it is.
    const char* column = req->which() == "profile" ? "profile_pic"
                         : req->which() == "cover" ? "cover_pic"
                                                   : nullptr;
    if (!column || req->file_id().empty() || req->file_id().size() > 64)
      return rpc::BadRequest("bad picture");
    CL_ASSIGN_OR_RETURN(auto r,
                        pool_->Query(std::string("UPDATE tenants SET ") + column + " = $2 WHERE tn_id = $1",
                                     {db::P(req->tn_id()), db::P(req->file_id())}));
    if (r.affected == 0) return rpc::NotFoundError("no such tenant");
    profiles_.Forget(req->tn_id());
    return cloudillo::v1::Empty();
  });
}

// The /api/me family is answered on gRPC's thread when the profile is cached (no
// query, nothing to wait for), and on a worker when it has to be loaded.
grpc::ServerUnaryReactor* IdentityService::GetMe(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                 ApiReply* out) {
  if (profiles_.Cached(req->ctx().tn_id()))
    return rpc::ServeInline(ctx, out, [this, req] { return DoGetMe(*req); });
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoGetMe(*req); });
}

namespace {
// The gateway may reuse these answers until the profile changes (ProfileCache::Forget
// publishes the tag) or a published key expires, whichever comes first. The age is a
// safety net behind the published invalidation, so it is long: 4 to 5 minutes, spread
// by tenant so that tenants cached together are not all fetched again in one second.
void MarkReusable(const ProfileSnapshot& snap, absl::Time now, ApiReply* reply) {
  absl::Duration age = absl::Seconds(240) + absl::Milliseconds(uint64_t(snap.tenant.tn_id) * 7919 % 60000);
  for (const auto& k : snap.keys) {
    if (k.expires_at) age = std::min(age, *k.expires_at - now);
  }
  if (age <= absl::ZeroDuration()) return;
  reply->mutable_cache()->set_max_age_ms(int32_t(absl::ToInt64Milliseconds(age)));
  reply->mutable_cache()->set_tag(cache::ProfileInvalidation(snap.tenant.tn_id));
}
}  // namespace

absl::StatusOr<ApiReply> IdentityService::DoGetMe(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(auto snap, profiles_.Get(req.ctx().tn_id()));
  ApiReply reply;
  MarkReusable(*snap, clock_.Now(), &reply);
  (*reply.mutable_headers())["ETag"] = "\"" + snap->me_etag + "\"";
  const std::string& inm = Header(req, "if-none-match");
  if (!inm.empty() && EtagMatches(inm, snap->me_etag)) {
    reply.set_http_status(304);
    reply.set_empty_body(true);
    return reply;
  }
  reply.set_data_json(snap->me_json);
  return reply;
}

namespace {
// The caller's standing as far as the token tells. A scoped token that names the tenant
// without being its owner (a share link, a key's token) reads as a guest; another scoped
// token keeps its identity's relationships but not its roles (PROTOCOL D.14).
Viewer ViewerOf(const cloudillo::v1::RequestContext& ctx) {
  Viewer v;
  if (!ctx.authenticated()) return v;
  if (rpc::IsOwner(ctx)) return Viewer{.owner = true, .authenticated = true};
  if (!ctx.scope().empty() && ctx.subject() == ctx.id_tag()) return v;
  v.authenticated = true;
  if (ctx.scope().empty()) v.role = HighestCommunityRole(ctx.roles());
  return v;
}

// Whether the answer needs the caller's follow and connection state (a query).
bool NeedsRelationship(const ProfileSnapshot& snap, const Viewer& v) {
  return snap.relationship_markers && v.authenticated && !v.owner && v.role == 0;
}
}  // namespace

grpc::ServerUnaryReactor* IdentityService::GetMeFull(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                     ApiReply* out) {
  auto snap = profiles_.Cached(req->ctx().tn_id());
  if (snap && !NeedsRelationship(*snap, ViewerOf(req->ctx())))
    return rpc::ServeInline(ctx, out, [this, req] { return DoGetMeFull(*req); });
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoGetMeFull(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoGetMeFull(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(auto snap, profiles_.Get(req.ctx().tn_id()));
  Viewer viewer = ViewerOf(req.ctx());
  ApiReply reply;
  // Reused per caller (the gateway keys on subject, roles and scope). A change of the
  // caller's follow or connection state must publish `profile:<tn>` like a profile
  // change does, or the reply would outlive it.
  MarkReusable(*snap, clock_.Now(), &reply);
  if (viewer.owner) {
    reply.set_data_json(snap->full_owner_json);
  } else if (!viewer.authenticated) {
    reply.set_data_json(snap->full_public_json);
  } else {
    auto caller = CanonicalIdTag(req.ctx().subject());
    if (NeedsRelationship(*snap, viewer) && caller.ok()) {
      CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("SELECT follower, connected FROM profiles "
                                                     "WHERE tn_id = $1 AND id_tag = $2",
                                                     {db::P(req.ctx().tn_id()), db::P(*caller)}));
      if (!r.empty()) {
        viewer.follower = r.rows[0].Bool(0);
        viewer.connected = r.rows[0].Bool(1);
      }
    }
    reply.set_data_json(FullJsonFor(*snap, viewer));
  }
  return reply;
}

grpc::ServerUnaryReactor* IdentityService::PatchMe(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                   ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoPatchMe(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoPatchMe(const ApiRequest& req) {
  if (!rpc::IsOwner(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  std::optional<std::string> name;
  if (auto it = body.find("name"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return rpc::BadRequest("name must be a string");
    name = it->get<std::string>();
    if (name->empty() || name->size() > 256) return rpc::BadRequest("name must be 1-256 bytes");
  }
  json patch = json::object();
  if (auto it = body.find("x"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return rpc::BadRequest("x must be an object");
    if (it->size() > 32) return rpc::BadRequest("x takes at most 32 entries");
    for (auto e = it->begin(); e != it->end(); ++e) {
      if (e.key().empty() || e.key().size() > 256) return rpc::BadRequest("x keys must be 1-256 bytes");
      if (!e.value().is_null() && !e.value().is_string())
        return rpc::BadRequest("x values must be strings or null");
      if (e.value().is_string() && e.value().get_ref<const std::string&>().size() > 4096) {
        return rpc::BadRequest("x values must be at most 4096 bytes");
      }
    }
    patch = *it;
  }
  int64_t tn_id = req.ctx().tn_id();
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    CL_ASSIGN_OR_RETURN(db::Result r,
                        tx.Query("SELECT x::text FROM tenants WHERE tn_id = $1 FOR UPDATE", {db::P(tn_id)}));
    if (r.empty()) return rpc::Forbidden();
    json x = json::parse(r.rows[0].Str(0), nullptr, false);
    if (!x.is_object()) x = json::object();
    for (auto e = patch.begin(); e != patch.end(); ++e) {
      if (e.value().is_null())
        x.erase(e.key());
      else
        x[e.key()] = e.value();
    }
    if (x.size() > 256) return rpc::BadRequest("profile has too many x entries");
    return tx
        .Query("UPDATE tenants SET x = $2::jsonb, name = coalesce($3, name) WHERE tn_id = $1",
               {db::P(tn_id), db::P(x.dump()), name ? db::P(*name) : db::Null()})
        .status();
  }));
  profiles_.Forget(tn_id);
  CL_ASSIGN_OR_RETURN(TenantRow t, LoadTenant(*pool_, tn_id));
  ojson p = ProfileHead(t);
  p["createdAt"] = t.created_at;
  if (!t.x.empty()) p["x"] = t.x;
  ApiReply reply;
  reply.set_data_json("{\"profile\":" + p.dump() + "}");
  reply.set_raw(true);
  return reply;
}

grpc::ServerUnaryReactor* IdentityService::GetAppDomain(grpc::CallbackServerContext* ctx,
                                                        const ApiRequest* req, ApiReply* out) {
  return rpc::ServeInline(ctx, out, [req]() -> absl::StatusOr<ApiReply> {
    return rpc::Data(json{{"appDomain", req->ctx().id_tag()}});
  });
}

grpc::ServerUnaryReactor* IdentityService::ListProfiles(grpc::CallbackServerContext* ctx,
                                                        const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoListProfiles(*req); });
}

namespace {
constexpr char kProfileColumns[] =
    "id_tag, name, type, coalesce(profile_pic, ''), coalesce(status, ''), connected, following, follower, "
    "coalesce(trust, ''), hidden_in_home, coalesce(roles, ''), "
    "coalesce(to_char(feed_read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(to_char(msg_read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')";

// `list_item`: the /api/profiles item (type always, roles, hiddenInHome when true);
// otherwise the single relationship view (type only for communities).
ojson ProfileJson(const db::Row& r, bool list_item) {
  ojson p;
  p["idTag"] = r.Str(0);
  p["name"] = r.Str(1);
  if (list_item || r.Str(2) == "community") p["type"] = r.Str(2);
  if (!r.Str(3).empty()) p["profilePic"] = r.Str(3);
  if (!r.Str(4).empty()) p["status"] = r.Str(4);
  p["connected"] = r.Bool(5);
  p["following"] = r.Bool(6);
  p["follower"] = r.Bool(7);
  if (!r.Str(8).empty()) p["trust"] = r.Str(8);
  if (list_item && r.Bool(9)) p["hiddenInHome"] = true;
  if (list_item && !r.Str(10).empty()) {
    ojson roles = ojson::array();
    for (absl::string_view role : absl::StrSplit(AV(r.Str(10)), ',', absl::SkipEmpty()))
      roles.push_back(std::string(role));
    p["roles"] = roles;
  }
  if (!r.Str(11).empty()) p["feedReadAt"] = r.Str(11);
  if (!r.Str(12).empty()) p["msgReadAt"] = r.Str(12);
  return p;
}
}  // namespace

absl::StatusOr<ApiReply> IdentityService::DoListProfiles(const ApiRequest& req) {
  std::string sql = std::string("SELECT ") + kProfileColumns + " FROM profiles WHERE tn_id = $1";
  std::vector<db::Param> params = {db::P(req.ctx().tn_id())};
  auto add = [&](const std::string& cond, db::Param p) {
    params.push_back(std::move(p));
    sql += " AND " + cond + "$" + std::to_string(params.size());
  };
  const std::string& type = rpc::QueryParam(req, "type");
  if (!type.empty()) {
    if (type != "person" && type != "community") return rpc::BadRequest("type must be person or community");
    add("type = ", db::P(type));
  }
  for (const char* flag : {"connected", "following", "follower"}) {
    const std::string& v = rpc::QueryParam(req, flag);
    if (v == "true" || v == "false") add(std::string(flag) + " = ", db::P(v == "true"));
  }
  std::string status = rpc::QueryParam(req, "status");
  std::vector<std::string> statuses;
  for (absl::string_view s :
       absl::StrSplit(AV(status.empty() ? std::string("A,M") : status), ',', absl::SkipEmpty())) {
    if (s == "A" || s == "B" || s == "M" || s == "S" || s == "X") statuses.emplace_back(s);
  }
  if (statuses.empty()) return rpc::BadRequest("status takes A, B, M, S or X");
  add("coalesce(status, 'A') = ANY(", db::P(db::TextArrayLiteral(statuses)));
  sql += "::text[])";
  std::string q = rpc::QueryParam(req, "q");
  if (q.empty()) q = rpc::QueryParam(req, "search");
  if (!q.empty()) {
    params.push_back(db::P("%" + db::EscapeLike(absl::AsciiStrToLower(AV(q))) + "%"));
    sql += " AND (lower(name) LIKE $" + std::to_string(params.size()) + " OR id_tag LIKE $" +
           std::to_string(params.size()) + ")";
  }
  if (const std::string& id = rpc::QueryParam(req, "idTag"); !id.empty()) add("id_tag = ", db::P(id));
  if (rpc::QueryParam(req, "trustSet") == "true") sql += " AND trust IS NOT NULL";
  sql += " ORDER BY lower(name), id_tag LIMIT 500";
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(sql, params));
  ojson arr = ojson::array();
  for (const auto& row : r.rows) arr.push_back(ProfileJson(row, true));
  ApiReply reply;
  reply.set_data_json(arr.dump());
  return reply;
}

grpc::ServerUnaryReactor* IdentityService::GetProfile(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                      ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoGetProfile(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoGetProfile(const ApiRequest& req) {
  auto it = req.path().find("idTag");
  auto id_tag = CanonicalIdTag(it == req.path().end() ? "" : it->second);
  if (!id_tag.ok()) return rpc::BadRequest("invalid idTag");
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(std::string("SELECT ") + kProfileColumns +
                                                     " FROM profiles WHERE tn_id = $1 AND id_tag = $2",
                                                 {db::P(req.ctx().tn_id()), db::P(*id_tag)}));
  ApiReply reply;
  reply.set_data_json(r.empty() ? "null" : ProfileJson(r.rows[0], false).dump());
  return reply;
}

void IdentityService::Announce(const std::string& message) {
  if (!redis_) return;
  absl::Status st = redis_->Publish(cache::kInvalidationChannel, message);
  if (!st.ok())
    LogWarn("invalidation_publish_failed", {{"message", message}, {"error", std::string(st.message())}});
}

}  // namespace cloudillo::identity
