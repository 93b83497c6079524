// Refs (PROTOCOL §8 "Refs", §3.6 `refId=`): share links kept with the other
// credentials, because a refId is one: whoever holds a `share.file` ref exchanges it
// here for an anonymous token scoped `file:<id>:<R|C|W>`, and that exchange is one
// call to access touching only access's tables, as a login is.
//
// Who may do what: only the tenant's owner, with an unscoped token, lists, mints,
// changes and revokes refs (on this server only the owner manages a file's shares, so
// minting a link, which is re-sharing, answers to the same authority). A scoped
// token, a share guest's included, is refused before anything is read. Only
// `share.file` may be minted through the API. `GET /api/refs/{id}` is public: a
// guest learns the type, an authenticated caller the details.
//
// The file named by a ref is not looked up here: the token it yields opens nothing
// the blob service does not grant to `file:<id>:X` on this tenant, and the owner can
// mint such a token directly with `?scope=` anyway.
#include "absl/strings/numbers.h"
#include "access_service.h"
#include "cloudillo/core/random.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "ref_fields.h"

namespace cloudillo::access {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr char kRefColumns[] =
    "ref_id, type, description, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "count, resource_id, access_level, params";

// The reference's RefResponse: absent members are omitted, `count` too when unlimited.
ojson RefJson(const db::Row& r) {
  ojson j;
  j["refId"] = r.Str(0);
  j["type"] = r.Str(1);
  if (!r.IsNull(2)) j["description"] = r.Str(2);
  j["createdAt"] = r.Str(3);
  if (!r.IsNull(4)) j["expiresAt"] = r.Str(4);
  if (!r.IsNull(5)) j["count"] = r.Int(5);
  if (!r.IsNull(6)) j["resourceId"] = r.Str(6);
  if (!r.IsNull(7)) j["accessLevel"] = AccessLevelName(r.Str(7)[0]);
  if (!r.IsNull(8)) j["params"] = r.Str(8);
  return j;
}

db::Param OptText(const std::optional<std::string>& s) { return s ? db::P(*s) : db::Null(); }
db::Param OptInt(const std::optional<int64_t>& v) { return v ? db::P(*v) : db::Null(); }

}  // namespace

absl::StatusOr<ApiReply> AccessService::DoListRefs(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  std::string sql = std::string("SELECT ") + kRefColumns + " FROM refs WHERE tn_id = $1";
  std::vector<db::Param> params = {db::P(ctx.tn_id())};
  const std::string& filter = rpc::QueryParam(req, "filter");
  const db::Param now = db::P(absl::ToUnixSeconds(clock_.Now()));
  if (filter.empty() || filter == "active") {
    params.push_back(now);
    sql += " AND (expires_at IS NULL OR expires_at > to_timestamp($2)) AND (count IS NULL OR count > 0)";
  } else if (filter == "used") {
    sql += " AND count = 0";
  } else if (filter == "expired") {
    params.push_back(now);
    sql += " AND expires_at <= to_timestamp($2)";
  } else if (filter != "all") {
    return rpc::BadRequest("filter must be active, used, expired or all");
  }
  if (const std::string& type = rpc::QueryParam(req, "type"); !type.empty()) {
    params.push_back(db::P(type));
    sql += " AND type = $" + std::to_string(params.size());
  }
  if (const std::string& rid = rpc::QueryParam(req, "resourceId"); !rid.empty()) {
    if (!IsScopeFileId(rid)) return rpc::BadRequest("resourceId must be a file id");
    params.push_back(db::P(rid));
    sql += " AND resource_id = $" + std::to_string(params.size());
  }
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query(sql + " ORDER BY created_at DESC, ref_id LIMIT 1000", params));
  ojson arr = ojson::array();
  for (const auto& row : r.rows) arr.push_back(RefJson(row));
  // The reference answers the whole list with offset pagination covering it.
  ApiReply reply = rpc::Data(arr);
  reply.set_extra_json(
      json({{"pagination", {{"offset", 0}, {"limit", arr.size()}, {"total", arr.size()}}}}).dump());
  return reply;
}

absl::StatusOr<ApiReply> AccessService::DoCreateRef(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  // Before the body is read: a scoped caller must not learn even whether it was valid.
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  CL_ASSIGN_OR_RETURN(RefCreate c, ParseRefCreate(body, absl::ToUnixSeconds(clock_.Now())));
  // The other types are issued by the server's own flows (registration, password reset).
  if (c.type != kShareFileRef) return rpc::Forbidden("Only share.file refs may be created");
  if (c.resource_id.empty()) return rpc::BadRequest("resourceId is required for share.file refs");
  const std::string ref_id = RandomAlnum(24);
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query(
          std::string("INSERT INTO refs (tn_id, ref_id, type, description, expires_at, count, "
                      "resource_id, access_level, params) VALUES ($1, $2, $3, $4, "
                      "to_timestamp($5::bigint), $6, $7, $8, $9) RETURNING ") +
              kRefColumns,
          {db::P(ctx.tn_id()), db::P(ref_id), db::P(c.type), OptText(c.description), OptInt(c.expires_at),
           OptInt(c.count), db::P(c.resource_id), db::P(std::string(1, c.access_level)), OptText(c.params)}));
  ApiReply reply = rpc::Data(RefJson(r.rows[0]));
  reply.set_http_status(201);
  return reply;
}

absl::StatusOr<ApiReply> AccessService::DoGetRef(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  const std::string& ref_id = rpc::PathParam(req, "refId");
  if (!IsRefId(ref_id)) return rpc::NotFoundError("Ref not found");
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(std::string("SELECT ") + kRefColumns +
                                                     " FROM refs WHERE tn_id = $1 AND ref_id = $2",
                                                 {db::P(ctx.tn_id()), db::P(ref_id)}));
  if (r.empty()) return rpc::NotFoundError("Ref not found");
  // A share guest's token is authenticated but anonymous: it gets the guest's view,
  // and of a live link only; the owner still sees an expired one (filter=expired).
  if (!ctx.authenticated() || !ctx.scope().empty()) {
    if (!r.rows[0].IsNull(4) && RefExpired(r.rows[0].Str(4), absl::ToUnixSeconds(clock_.Now())))
      return rpc::NotFoundError("Ref has expired");
    return rpc::Data(ojson{{"refId", r.rows[0].Str(0)}, {"type", r.rows[0].Str(1)}});
  }
  return rpc::Data(RefJson(r.rows[0]));
}

absl::StatusOr<ApiReply> AccessService::DoPatchRef(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  const std::string& ref_id = rpc::PathParam(req, "refId");
  if (!IsRefId(ref_id)) return rpc::NotFoundError("Ref not found");
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  CL_ASSIGN_OR_RETURN(RefUpdate u, ParseRefUpdate(body, absl::ToUnixSeconds(clock_.Now())));
  std::vector<db::Param> params = {db::P(ctx.tn_id()), db::P(ref_id)};
  std::string set;
  auto add = [&](const char* column, db::Param p, const char* cast) {
    params.push_back(std::move(p));
    if (!set.empty()) set += ", ";
    set += std::string(column) + " = " + cast + "($" + std::to_string(params.size()) + ")";
  };
  if (u.description.present) add("description", OptText(u.description.value), "");
  if (u.expires_at.present) add("expires_at", OptInt(u.expires_at.value), "to_timestamp");
  if (u.count.present) add("count", OptInt(u.count.value), "");
  if (u.access_level) add("access_level", db::P(std::string(1, *u.access_level)), "");
  // A used-up link stays used up: raising or clearing its count would silently
  // re-open a link its owner handed out as single-use (DELETE and POST instead).
  std::string guard = u.count.present ? " AND (count IS NULL OR count > 0)" : "";
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query("UPDATE refs SET " + set + " WHERE tn_id = $1 AND ref_id = $2 AND type = 'share.file'" +
                       guard + " RETURNING " + kRefColumns,
                   params));
  if (!r.empty()) return rpc::Data(RefJson(r.rows[0]));
  CL_ASSIGN_OR_RETURN(db::Result e,
                      pool_->Query("SELECT type, count FROM refs WHERE tn_id = $1 AND ref_id = $2",
                                   {db::P(ctx.tn_id()), db::P(ref_id)}));
  if (e.empty()) return rpc::NotFoundError("Ref not found");
  if (e.rows[0].Str(0) != kShareFileRef) return rpc::BadRequest("Only share.file refs may be changed");
  return rpc::BadRequest("cannot resurrect a fully-used ref; create a new ref instead");
}

absl::StatusOr<ApiReply> AccessService::DoDeleteRef(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  const std::string& ref_id = rpc::PathParam(req, "refId");
  if (!IsRefId(ref_id)) return rpc::NotFoundError("Ref not found");
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("DELETE FROM refs WHERE tn_id = $1 AND ref_id = $2",
                                                 {db::P(ctx.tn_id()), db::P(ref_id)}));
  if (r.affected == 0) return rpc::NotFoundError("Ref not found");
  ApiReply reply;
  reply.set_data_json("null");
  return reply;
}

// `GET /api/auth/access-token?refId=` (PROTOCOL §3.6): one use of the link, or with
// `refresh=true` only a check that it is still good (the guest's page renews its token
// without spending uses). The token has no `sub` and no roles: an anonymous guest.
absl::StatusOr<ApiReply> AccessService::DoRefAccessToken(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  const std::string& ref_id = rpc::QueryParam(req, "refId");
  const bool refresh = rpc::QueryParam(req, "refresh") == "true";
  if (!IsRefId(ref_id)) return rpc::BadRequest("Invalid or expired share link");
  const std::string usable =
      " WHERE tn_id = $1 AND ref_id = $2 AND type = 'share.file' AND resource_id IS NOT NULL AND "
      "(expires_at IS NULL OR expires_at > to_timestamp($3)) AND (count IS NULL OR count > 0)";
  std::vector<db::Param> params = {db::P(ctx.tn_id()), db::P(ref_id),
                                   db::P(absl::ToUnixSeconds(clock_.Now()))};
  // One statement, so two guests racing for the last use cannot both win it.
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query(refresh ? "SELECT resource_id, access_level, params FROM refs" + usable
                                           : "UPDATE refs SET count = count - 1" + usable +
                                                 " RETURNING resource_id, access_level, params",
                                   params));
  if (r.empty()) return rpc::BadRequest("Invalid or expired share link");
  const std::string file_id = r.rows[0].Str(0);
  const char level = r.rows[0].IsNull(1) ? 'R' : r.rows[0].Str(1)[0];
  crypto::AccessClaims claims;
  claims.iss = ctx.id_tag();
  claims.scope = "file:" + file_id + ":" + std::string(1, level);
  CL_ASSIGN_OR_RETURN(std::string token, MintToken(ctx.tn_id(), claims));
  ojson out;
  out["token"] = token;
  out["scope"] = *claims.scope;
  out["resourceId"] = file_id;
  out["accessLevel"] = AccessLevelName(level);
  if (!r.rows[0].IsNull(2)) out["params"] = r.rows[0].Str(2);
  return rpc::Data(out);
}

#define UNARY(Rpc)                                                                                      \
  grpc::ServerUnaryReactor* AccessService::Rpc(grpc::CallbackServerContext* ctx, const ApiRequest* req, \
                                               ApiReply* out) {                                         \
    return rpc::Serve(ctx, out, workers_, [this, req] { return Do##Rpc(*req); });                       \
  }
UNARY(ListRefs)
UNARY(CreateRef)
UNARY(GetRef)
UNARY(PatchRef)
UNARY(DeleteRef)
#undef UNARY

}  // namespace cloudillo::access
