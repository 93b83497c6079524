// Tenant lookups and the profile routes (PROTOCOL §1.4, Appendix C.7-C.9).
#include "identity_service.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/db/sql_text.h"
#include "cloudillo/rpc/api.h"

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using rpc::Serve;

struct TenantRow {
  int64_t tn_id = 0;
  std::string id_tag, type, status, name, profile_pic, cover_pic, created_at;
  json x = json::object();
};

absl::StatusOr<TenantRow> LoadTenant(db::Pool& pool, int64_t tn_id) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool.Query("SELECT tn_id, id_tag, type, status, name, coalesce(profile_pic, ''), "
                                 "coalesce(cover_pic, ''), x::text, "
                                 "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                                 "FROM tenants WHERE tn_id = $1",
                                 {db::P(tn_id)}));
  if (r.empty()) return rpc::Forbidden();  // an unknown tenant is 403 (PROTOCOL §9.1)
  const auto& row = r.rows[0];
  TenantRow t{row.Int(0), row.Str(1), row.Str(2), row.Str(3), row.Str(4), row.Str(5), row.Str(6), row.Str(8)};
  t.x = json::parse(row.Str(7), nullptr, false);
  if (!t.x.is_object()) t.x = json::object();
  return t;
}

// The `x` map a caller may see: the owner sees everything; others see entries whose
// `<key>.vis` marker is absent or "P" (public), and no markers.
json VisibleX(const json& x, bool owner) {
  if (owner) return x;
  json out = json::object();
  for (auto it = x.begin(); it != x.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() > 4 && k.compare(k.size() - 4, 4, ".vis") == 0) continue;
    auto vis = x.find(k + ".vis");
    if (vis != x.end() && !(vis->is_string() && vis->get<std::string>() == "P")) continue;
    out[k] = it.value();
  }
  return out;
}

// idTag, name, type and profilePic (omitted when unset): the head of every own-profile
// shape, in the order the /api/me ETag hashes.
ojson ProfileHead(const TenantRow& t) {
  ojson p;
  p["idTag"] = t.id_tag;
  p["name"] = t.name;
  p["type"] = t.type;
  if (!t.profile_pic.empty()) p["profilePic"] = t.profile_pic;
  return p;
}

ojson KeysJson(const std::vector<PublicKeyInfo>& keys) {
  ojson arr = ojson::array();
  for (const auto& k : keys) {
    ojson e;
    e["keyId"] = k.key_id;
    e["publicKey"] = k.public_key;
    if (k.expires_at) e["expiresAt"] = FormatIsoSeconds(*k.expires_at);
    arr.push_back(std::move(e));
  }
  return arr;
}

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

constexpr absl::Duration kProfileCacheTtl = absl::Seconds(2);

}  // namespace

struct IdentityService::ProfileSnapshot {
  TenantRow tenant;
  std::vector<PublicKeyInfo> keys;
  absl::Time fetched;
};

absl::StatusOr<std::shared_ptr<const IdentityService::ProfileSnapshot>> IdentityService::Profile(
    int64_t tn_id) {
  absl::Time now = clock_.Now();
  {
    std::lock_guard<std::mutex> lock(profiles_mu_);
    auto it = profiles_.find(tn_id);
    if (it != profiles_.end() && now - it->second->fetched < kProfileCacheTtl) return it->second;
  }
  auto snap = std::make_shared<ProfileSnapshot>();
  CL_ASSIGN_OR_RETURN(snap->tenant, LoadTenant(*pool_, tn_id));
  CL_ASSIGN_OR_RETURN(snap->keys, keys_.ListValid(*pool_, tn_id, now));
  snap->fetched = now;
  std::lock_guard<std::mutex> lock(profiles_mu_);
  if (profiles_.size() > 100000) profiles_.clear();
  profiles_[tn_id] = snap;
  return std::shared_ptr<const ProfileSnapshot>(snap);
}

void IdentityService::ForgetProfile(int64_t tn_id) {
  std::lock_guard<std::mutex> lock(profiles_mu_);
  profiles_.erase(tn_id);
}

IdentityService::IdentityService(std::shared_ptr<db::Pool> pool, std::shared_ptr<cache::Redis> redis,
                                 const crypto::MasterKey& master, const Clock& clock)
    : pool_(std::move(pool)), redis_(std::move(redis)), clock_(clock), keys_(master) {}

grpc::Status IdentityService::ResolveTenant(grpc::ServerContext*,
                                            const cloudillo::v1::ResolveTenantRequest* req,
                                            cloudillo::v1::Tenant* out) {
  return Serve(out, [&]() -> absl::StatusOr<cloudillo::v1::Tenant> {
    CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("SELECT tn_id, id_tag, type, status, name FROM tenants "
                                                   "WHERE id_tag = $1",
                                                   {db::P(req->id_tag())}));
    if (r.empty()) return absl::NotFoundError("no such tenant");
    cloudillo::v1::Tenant t;
    t.set_tn_id(r.rows[0].Int(0));
    t.set_id_tag(r.rows[0].Str(1));
    t.set_type(r.rows[0].Str(2));
    t.set_status(r.rows[0].Str(3));
    t.set_name(r.rows[0].Str(4));
    return t;
  });
}

grpc::Status IdentityService::GetLoginProfile(grpc::ServerContext*, const cloudillo::v1::TenantRef* req,
                                              cloudillo::v1::LoginProfile* out) {
  return Serve(out, [&]() -> absl::StatusOr<cloudillo::v1::LoginProfile> {
    CL_ASSIGN_OR_RETURN(auto snap, Profile(req->tn_id()));
    const TenantRow& t = snap->tenant;
    cloudillo::v1::LoginProfile p;
    p.set_tn_id(t.tn_id);
    p.set_id_tag(t.id_tag);
    p.set_name(t.name.empty() ? t.id_tag : t.name);
    p.set_profile_pic(t.profile_pic);
    return p;
  });
}

grpc::Status IdentityService::GetMe(grpc::ServerContext*, const ApiRequest* req, ApiReply* out) {
  return Serve(out, [&] { return DoGetMe(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoGetMe(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(auto snap, Profile(req.ctx().tn_id()));
  const TenantRow& t = snap->tenant;
  const auto& keys = snap->keys;
  // Field order and compact form are what the ETag hashes (PROTOCOL E15).
  ojson base = ProfileHead(t);
  base["keys"] = KeysJson(keys);
  std::string body = base.dump();
  std::string tag = Base64UrlEncode(crypto::Sha256(body).substr(0, 8));
  ApiReply reply;
  (*reply.mutable_headers())["ETag"] = "\"" + tag + "\"";
  const std::string& inm = Header(req, "if-none-match");
  if (!inm.empty() && EtagMatches(inm, tag)) {
    reply.set_http_status(304);
    reply.set_empty_body(true);
    return reply;
  }
  reply.set_data_json(std::move(body));
  return reply;
}

grpc::Status IdentityService::GetMeFull(grpc::ServerContext*, const ApiRequest* req, ApiReply* out) {
  return Serve(out, [&] { return DoGetMeFull(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoGetMeFull(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(auto snap, Profile(req.ctx().tn_id()));
  const TenantRow& t = snap->tenant;
  const auto& keys = snap->keys;
  ojson p = ProfileHead(t);
  if (!t.cover_pic.empty()) p["coverPic"] = t.cover_pic;
  p["keys"] = KeysJson(keys);
  json x = VisibleX(t.x, rpc::IsOwner(req.ctx()));
  if (!x.empty()) p["x"] = x;
  ApiReply reply;
  reply.set_data_json(p.dump());
  return reply;
}

grpc::Status IdentityService::PatchMe(grpc::ServerContext*, const ApiRequest* req, ApiReply* out) {
  return Serve(out, [&] { return DoPatchMe(*req); });
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
  ForgetProfile(tn_id);
  CL_ASSIGN_OR_RETURN(TenantRow t, LoadTenant(*pool_, tn_id));
  ojson p = ProfileHead(t);
  p["createdAt"] = t.created_at;
  if (!t.x.empty()) p["x"] = t.x;
  ApiReply reply;
  reply.set_data_json("{\"profile\":" + p.dump() + "}");
  reply.set_raw(true);
  return reply;
}

grpc::Status IdentityService::GetAppDomain(grpc::ServerContext*, const ApiRequest* req, ApiReply* out) {
  return Serve(out, [&]() -> absl::StatusOr<ApiReply> {
    return rpc::Data(json{{"appDomain", req->ctx().id_tag()}});
  });
}

grpc::Status IdentityService::ListProfiles(grpc::ServerContext*, const ApiRequest* req, ApiReply* out) {
  return Serve(out, [&] { return DoListProfiles(*req); });
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

grpc::Status IdentityService::GetProfile(grpc::ServerContext*, const ApiRequest* req, ApiReply* out) {
  return Serve(out, [&] { return DoGetProfile(*req); });
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

}  // namespace cloudillo::identity
