// GET /api/files (PROTOCOL §4.4, Appendix C.11): every filter of §8, keyset
// pagination with an opaque cursor, and only what the caller may read.
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "blob_service.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "file_rows.h"

namespace cloudillo::blob {
namespace {

// LIKE pattern text with its wildcards escaped.
std::string LikeEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

absl::StatusOr<bool> BoolParam(const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return rpc::BadRequest("Invalid boolean");
}

// A query being built: conditions joined by AND, parameters numbered as they come.
struct Where {
  std::vector<db::Param> params;
  std::string sql;
  std::string Add(db::Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  }
  void And(const std::string& cond) { sql += (sql.empty() ? "" : " AND ") + cond; }
};

}  // namespace

std::string BlobService::ListedVisibilities(const cloudillo::v1::RequestContext& ctx) {
  std::string out = "'P', 'V'";
  auto related = relations_.ReadableVisibilities(ctx);
  if (!related.ok()) {
    LogWarn("file_list_relationship_unavailable", {{"error", related.status().ToString()}});
    return out;
  }
  for (char v : *related) out += std::string(", '") + v + "'";  // letters of "F2C"
  return out;
}

absl::StatusOr<ApiReply> BlobService::DoListFiles(const ApiRequest& req) {
  static const std::set<std::string> kKeys = {
      "limit",      "cursor",        "fileId",    "parentId", "notParentId", "rootId",         "tag",
      "preset",     "variant",       "status",    "fileTp",   "contentType", "includeFolders", "fileName",
      "ownerIdTag", "notOwnerIdTag", "localOnly", "pinned",   "starred",     "hidden",         "sort",
      "sortDir",    "withParent",    "withPath",  "token"};
  for (const auto& [k, v] : req.query()) {
    if (!kKeys.count(k)) return rpc::BadRequest("Unknown query parameter: " + k.substr(0, 64));
  }
  auto q = [&](const char* k) -> const std::string& { return rpc::QueryParam(req, k); };
  const auto& ctx = req.ctx();

  int64_t limit = 30;
  if (!q("limit").empty() && (!absl::SimpleAtoi(AV(q("limit")), &limit) || limit < 1 || limit > 1000))
    return rpc::BadRequest("Invalid limit");
  std::string sort = q("sort").empty() ? "created" : q("sort");
  std::string sort_expr;
  if (sort == "created") {
    sort_expr = "(extract(epoch FROM f.created_at) * 1000000)::bigint";
  } else if (sort == "modified") {
    sort_expr = "(extract(epoch FROM f.modified_at) * 1000000)::bigint";
  } else if (sort == "name") {
    sort_expr = "f.file_name";
  } else {
    return rpc::BadRequest("Invalid sort");
  }
  std::string dir = q("sortDir").empty() ? (sort == "name" ? "asc" : "desc") : q("sortDir");
  if (dir != "asc" && dir != "desc") return rpc::BadRequest("Invalid sortDir");

  Where w;
  w.And("f.tn_id = " + w.Add(db::P(ctx.tn_id())));
  const std::string& parent = q("parentId");
  const std::string& status = q("status");
  if (parent == "__trash__") {
    w.And("f.status = 'D'");
  } else {
    if (parent == "__root__") {
      w.And("f.parent_id IS NULL");
    } else if (!parent.empty()) {
      if (!IsFileId(parent)) return rpc::BadRequest("Invalid parentId");
      w.And("f.parent_id = " + w.Add(db::P(parent)));
    }
    if (status.empty()) w.And("f.status = 'A'");
  }
  if (!status.empty()) {
    if (status.size() != 1 || (status[0] != 'A' && status[0] != 'D'))
      return rpc::BadRequest("Invalid status");
    w.And("f.status = " + w.Add(db::P(status)));
  }
  if (!q("fileId").empty()) {
    if (!IsFileId(q("fileId"))) return rpc::BadRequest("Invalid fileId");
    w.And("f.file_id = " + w.Add(db::P(q("fileId"))));
  }
  if (!q("notParentId").empty()) {
    if (!IsFileId(q("notParentId"))) return rpc::BadRequest("Invalid notParentId");
    w.And("f.parent_id IS DISTINCT FROM " + w.Add(db::P(q("notParentId"))));
  }
  if (!q("rootId").empty()) {
    if (!IsFileId(q("rootId"))) return rpc::BadRequest("Invalid rootId");
    w.And("f.root_id = " + w.Add(db::P(q("rootId"))));
  }
  if (!q("tag").empty()) {
    if (!IsValidTag(q("tag"))) return rpc::BadRequest("Invalid tag");
    w.And(w.Add(db::P(q("tag"))) + " = ANY(f.tags)");
  }
  if (!q("preset").empty()) w.And("f.preset = " + w.Add(db::P(q("preset").substr(0, 64))));
  if (!q("fileTp").empty()) w.And("f.file_tp = " + w.Add(db::P(q("fileTp").substr(0, 16))));
  if (!q("contentType").empty())
    w.And("f.content_type LIKE " + w.Add(db::P(LikeEscape(q("contentType").substr(0, 255)) + "%")));
  if (!q("fileName").empty())
    w.And("f.file_name ILIKE " + w.Add(db::P("%" + LikeEscape(q("fileName").substr(0, 255)) + "%")));
  if (!q("includeFolders").empty()) {
    CL_ASSIGN_OR_RETURN(bool folders, BoolParam(q("includeFolders")));
    if (!folders) w.And("f.file_tp <> 'FLDR'");
  }
  // Every file here is the tenant's own (remote placements are not stored yet).
  if (!q("ownerIdTag").empty() && q("ownerIdTag") != ctx.id_tag()) w.And("false");
  if (!q("notOwnerIdTag").empty() && q("notOwnerIdTag") == ctx.id_tag()) w.And("false");
  const std::string user_param = w.Add(db::P(ctx.subject()));
  for (const char* flag : {"pinned", "starred"}) {
    if (q(flag).empty()) continue;
    CL_ASSIGN_OR_RETURN(bool want, BoolParam(q(flag)));
    w.And(std::string(want ? "" : "NOT ") + "coalesce(u." + flag + ", false)");
  }
  // Only what the caller may read (blob_service.h).
  if (!rpc::IsOwner(ctx)) {
    if (!ctx.scope().empty()) {
      // The scoped files themselves, and the live files below a scoped folder (a link
      // to a folder lists its contents; file_rows.h ScopeLevel is the same rule).
      const std::string ids = w.Add(db::P(ScopeFileIds(ctx.scope()))) + "::text[]";
      w.And("(f.file_id = ANY(" + ids +
            ") OR (f.status = 'A' AND EXISTS (WITH RECURSIVE up(id, depth) AS (SELECT f.parent_id, 1 UNION "
            "ALL SELECT p.parent_id, up.depth + 1 FROM files p JOIN up ON p.tn_id = f.tn_id AND p.file_id = "
            "up.id WHERE p.parent_id IS NOT NULL AND up.depth < " +
            std::to_string(kMaxFolderDepth) +
            ") SELECT 1 FROM up JOIN files a ON a.tn_id = f.tn_id AND a.file_id = up.id WHERE a.file_tp = "
            "'FLDR' AND a.status = 'A' AND a.file_id = ANY(" +
            ids + "))))");
    } else {
      if (ctx.authenticated()) {
        w.And("(f.visibility IN (" + ListedVisibilities(ctx) +
              ") OR EXISTS (SELECT 1 FROM file_shares s WHERE s.tn_id = f.tn_id AND "
              "s.file_id = f.file_id AND s.subject_id = " +
              user_param + " AND (s.expires_at IS NULL OR s.expires_at > now())))");
      } else {
        w.And("f.visibility = 'P'");
      }
      w.And("f.status = 'A'");
    }
  }
  if (!q("cursor").empty()) {
    auto raw = Base64UrlDecode(q("cursor"));
    auto c = raw.ok() ? nlohmann::json::parse(*raw, nullptr, false) : nlohmann::json();
    if (!c.is_object() || c.value("s", "") != sort || !c.contains("v") || !c["id"].is_string())
      return rpc::BadRequest("Invalid cursor");
    std::string v;
    if (sort == "name" && c["v"].is_string()) {
      v = c["v"].get<std::string>();
    } else if (sort != "name" && c["v"].is_number_integer()) {
      v = std::to_string(c["v"].get<int64_t>());
    } else {
      return rpc::BadRequest("Invalid cursor");
    }
    std::string pv = w.Add(db::P(v)), pid = w.Add(db::P(c["id"].get<std::string>()));
    if (sort != "name") pv += "::bigint";
    w.And("(" + sort_expr + ", f.file_id) " + (dir == "asc" ? ">" : "<") + " (" + pv + ", " + pid + ")");
  }
  std::string sql = std::string("SELECT ") + kFileColumns + ", " + sort_expr +
                    ", u.pinned, u.starred FROM files f LEFT JOIN file_user_data u ON u.tn_id = f.tn_id AND "
                    "u.file_id = f.file_id AND u.user_tag = " +
                    user_param + " WHERE " + w.sql + " ORDER BY " + sort_expr + " " + dir + ", f.file_id " +
                    dir + " LIMIT " + std::to_string(limit + 1);
  CL_ASSIGN_OR_RETURN(auto rows, pool_->Query(sql, w.params));
  bool more = int64_t(rows.rows.size()) > limit;
  if (more) rows.rows.erase(rows.rows.begin() + limit, rows.rows.end());
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const db::Row& r : rows.rows) {
    FileRow f = RowToFile(r);
    nlohmann::json ud;
    if (!r.IsNull(16)) ud = {{"pinned", r.Bool(16)}, {"starred", r.Bool(17)}};
    items.push_back(FileView(ctx, f, ud.is_null() ? nullptr : &ud));
  }
  nlohmann::json next = nullptr;
  if (more && !rows.rows.empty()) {
    const db::Row& last = rows.rows.back();
    nlohmann::json c = {{"s", sort}, {"id", last.Str(0)}};
    if (sort == "name") {
      c["v"] = last.Str(15);
    } else {
      c["v"] = last.Int(15);
    }
    next = Base64UrlEncode(c.dump());
  }
  ApiReply reply;
  reply.set_data_json(items.dump());
  reply.set_extra_json(
      nlohmann::json({{"cursorPagination", {{"nextCursor", next}, {"hasMore", more}}}}).dump());
  return reply;
}

}  // namespace cloudillo::blob
