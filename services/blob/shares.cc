// Share entries (PROTOCOL §4.5, §8: /api/files/{id}/shares, /api/shares): the owner
// opens one file to one identity with R (read), C (comment) or W (write), until an
// optional expiry. A caller acting as that identity (an unscoped token whose subject
// is the id_tag) then reads, or with W renames, the file; blob_service.h lists the rest.
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "blob_service.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "file_rows.h"

namespace cloudillo::blob {
namespace {

using json = nlohmann::json;

constexpr const char* kShareColumns =
    "share_id, file_id, subject_id, permission, created_by, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

nlohmann::ordered_json ShareJson(const db::Row& r) {
  nlohmann::ordered_json s;
  s["shareId"] = r.Int(0);
  s["fileId"] = r.Str(1);
  s["subjectType"] = "U";
  s["subjectId"] = r.Str(2);
  s["permission"] = r.Str(3);
  s["createdBy"] = r.Str(4);
  s["createdAt"] = r.Str(5);
  if (!r.IsNull(6)) s["expiresAt"] = r.Str(6);
  return s;
}

// An id_tag as a share subject: 1-255 characters of [a-z0-9.-] (the stored U-label of
// an ASCII id_tag; the wire form of others is punycode, which fits too).
bool IsSubject(const std::string& s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return true;
}

absl::StatusOr<std::string> Permission(const json& body, const char* fallback) {
  if (!body.contains("permission") || body["permission"].is_null()) return std::string(fallback);
  const json& p = body["permission"];
  if (!p.is_string() || (p != "R" && p != "C" && p != "W"))
    return rpc::BadRequest("permission must be R, C or W");
  return p.get<std::string>();
}

// `expiresAt` as Unix seconds or an RFC 3339 string (§0.1); nullopt when null or absent.
absl::StatusOr<std::optional<std::string>> Expiry(const json& body) {
  if (!body.contains("expiresAt") || body["expiresAt"].is_null()) return std::optional<std::string>();
  const json& e = body["expiresAt"];
  absl::Time t;
  if (e.is_number_integer()) {
    t = absl::FromUnixSeconds(e.get<int64_t>());
  } else if (e.is_string()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, e.get<std::string>(), &t, &err))
      return rpc::BadRequest("expiresAt must be Unix seconds or RFC 3339");
  } else {
    return rpc::BadRequest("expiresAt must be Unix seconds or RFC 3339");
  }
  return std::optional<std::string>(absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()));
}

absl::StatusOr<int64_t> ShareIdParam(const ApiRequest& req) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(AV(rpc::PathParam(req, "shareId")), &id) || id <= 0)
    return rpc::BadRequest("Invalid shareId");
  return id;
}

}  // namespace

absl::StatusOr<char> BlobService::SharePermission(const cloudillo::v1::RequestContext& ctx,
                                                  const std::string& file_id) {
  if (!ctx.authenticated() || !ctx.scope().empty() || rpc::IsOwner(ctx) || ctx.subject().empty())
    return char(0);
  CL_ASSIGN_OR_RETURN(auto r,
                      pool_->Query("SELECT permission FROM file_shares WHERE tn_id = $1 AND file_id = $2 AND "
                                   "subject_id = $3 AND (expires_at IS NULL OR expires_at > now())",
                                   {db::P(ctx.tn_id()), db::P(file_id), db::P(ctx.subject())}));
  return r.empty() ? char(0) : r.rows[0].Str(0)[0];
}

absl::StatusOr<ApiReply> BlobService::DoListShares(const ApiRequest& req) {
  if (!rpc::IsOwner(req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  CL_ASSIGN_OR_RETURN(
      auto r, pool_->Query(std::string("SELECT ") + kShareColumns +
                               " FROM file_shares WHERE tn_id = $1 AND file_id = $2 ORDER BY share_id",
                           {db::P(req.ctx().tn_id()), db::P(f.file_id)}));
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& row : r.rows) out.push_back(ShareJson(row));
  return rpc::Data(out);
}

absl::StatusOr<ApiReply> BlobService::DoCreateShare(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  if (!body.contains("subjectId") || !body["subjectId"].is_string() || !IsSubject(body["subjectId"]))
    return rpc::BadRequest("subjectId must be an id_tag");
  if (body["subjectId"] == ctx.id_tag()) return rpc::BadRequest("A file is not shared with its owner");
  CL_ASSIGN_OR_RETURN(std::string perm, Permission(body, "R"));
  CL_ASSIGN_OR_RETURN(auto expires, Expiry(body));
  CL_ASSIGN_OR_RETURN(
      auto r,
      pool_->Query(std::string("INSERT INTO file_shares (tn_id, file_id, subject_id, permission, created_by, "
                               "expires_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz) ON CONFLICT (tn_id, "
                               "file_id, subject_id) DO UPDATE SET permission = EXCLUDED.permission, "
                               "expires_at = EXCLUDED.expires_at RETURNING ") +
                       kShareColumns,
                   {db::P(ctx.tn_id()), db::P(f.file_id), db::P(body["subjectId"].get<std::string>()),
                    db::P(perm), db::P(ctx.subject()), expires ? db::P(*expires) : db::Null()}));
  ApiReply reply = rpc::Data(ShareJson(r.rows[0]));
  reply.set_http_status(201);
  return reply;
}

absl::StatusOr<ApiReply> BlobService::DoPatchShare(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t id, ShareIdParam(req));
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  CL_ASSIGN_OR_RETURN(std::string perm, Permission(body, ""));
  CL_ASSIGN_OR_RETURN(auto expires, Expiry(body));
  bool set_expiry = body.contains("expiresAt");
  CL_ASSIGN_OR_RETURN(
      auto r,
      pool_->Query(std::string("UPDATE file_shares SET permission = coalesce(nullif($4, ''), permission), "
                               "expires_at = CASE WHEN $5 THEN $6::timestamptz ELSE expires_at END "
                               "WHERE tn_id = $1 AND file_id = $2 AND share_id = $3 RETURNING ") +
                       kShareColumns,
                   {db::P(ctx.tn_id()), db::P(f.file_id), db::P(id), db::P(perm), db::P(set_expiry),
                    expires ? db::P(*expires) : db::Null()}));
  if (r.empty()) return rpc::NotFoundError("Share not found");
  return rpc::Data(ShareJson(r.rows[0]));
}

absl::StatusOr<ApiReply> BlobService::DoDeleteShare(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t id, ShareIdParam(req));
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  CL_ASSIGN_OR_RETURN(auto r, pool_->Query("DELETE FROM file_shares WHERE tn_id = $1 AND file_id = $2 AND "
                                           "share_id = $3 RETURNING share_id",
                                           {db::P(ctx.tn_id()), db::P(f.file_id), db::P(id)}));
  if (r.empty()) return rpc::NotFoundError("Share not found");
  return rpc::Data(json{{"shareId", id}});
}

absl::StatusOr<ApiReply> BlobService::DoListAllShares(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!ctx.authenticated() || !ctx.scope().empty()) return rpc::Forbidden();
  // The owner sees every share of the tenant; anyone else what is shared with them.
  std::string sql = std::string("SELECT ") + kShareColumns + " FROM file_shares WHERE tn_id = $1";
  std::vector<db::Param> params = {db::P(ctx.tn_id())};
  const std::string& subject = rpc::IsOwner(ctx) ? rpc::QueryParam(req, "subjectId") : ctx.subject();
  if (!subject.empty()) {
    params.push_back(db::P(subject));
    sql += " AND subject_id = $2";
  }
  CL_ASSIGN_OR_RETURN(auto r, pool_->Query(sql + " ORDER BY share_id LIMIT 1000", params));
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& row : r.rows) out.push_back(ShareJson(row));
  return rpc::Data(out);
}

#define UNARY(Rpc, Call)                                                                              \
  grpc::ServerUnaryReactor* BlobService::Rpc(grpc::CallbackServerContext* ctx, const ApiRequest* req, \
                                             ApiReply* out) {                                         \
    return rpc::Serve(ctx, out, workers_, [=, this] { return Call; });                                \
  }
UNARY(ListShares, DoListShares(*req))
UNARY(CreateShare, DoCreateShare(*req))
UNARY(PatchShare, DoPatchShare(*req))
UNARY(DeleteShare, DoDeleteShare(*req))
UNARY(ListAllShares, DoListAllShares(*req))
#undef UNARY

}  // namespace cloudillo::blob
