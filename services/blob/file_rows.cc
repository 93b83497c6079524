// Loading file records, who may read or change them, and their JSON (FileView,
// PROTOCOL §4.4).
#include "file_rows.h"

#include "absl/strings/str_split.h"
#include "blob_service.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "file_ids.h"

namespace cloudillo::blob {

// Qualified: every query names the table `files f`, some join others.
const char* const kFileColumns =
    "f.file_id, f.parent_id, f.root_id, f.file_tp, f.file_name, coalesce(f.content_type, ''), "
    "coalesce(f.preset, ''), coalesce(f.descriptor, ''), coalesce(f.creator, ''), coalesce(f.visibility, "
    "''), "
    "f.status, coalesce(f.x::text, ''), "
    "to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "to_char(f.modified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), f.tags";

std::vector<std::string> ParseTextArray(const std::string& s) {
  // Tags are validated to [0-9A-Za-z_.:-], so PostgreSQL never quotes them.
  std::vector<std::string> out;
  if (s.size() < 2) return out;
  for (absl::string_view t : absl::StrSplit(AV(s.substr(1, s.size() - 2)), ',', absl::SkipEmpty()))
    out.emplace_back(t);
  return out;
}

std::string TextArray(const std::vector<std::string>& items) {
  std::string s = "{";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + items[i];
  return s + "}";
}

FileRow RowToFile(const db::Row& r, size_t at) {
  FileRow f;
  f.file_id = r.Str(at + 0);
  f.has_parent = !r.IsNull(at + 1);
  f.parent_id = r.Str(at + 1);
  f.has_root = !r.IsNull(at + 2);
  f.root_id = r.Str(at + 2);
  f.file_tp = r.Str(at + 3);
  f.file_name = r.Str(at + 4);
  f.content_type = r.Str(at + 5);
  f.preset = r.Str(at + 6);
  f.descriptor = r.Str(at + 7);
  f.creator = r.Str(at + 8);
  f.visibility = r.Str(at + 9);
  f.status = r.Str(at + 10);
  f.x_json = r.Str(at + 11);
  f.created_at = r.Str(at + 12);
  f.modified_at = r.Str(at + 13);
  f.tags = ParseTextArray(r.Str(at + 14));
  return f;
}

char ScopeAccess(const std::string& scope, const std::string& file_id) {
  char best = 0;
  for (absl::string_view s : absl::StrSplit(AV(scope), ',')) {
    std::vector<absl::string_view> p = absl::StrSplit(s, ':');
    if (p.size() != 3 || p[0] != "file" || p[1] != file_id || p[2].size() != 1) continue;
    char c = p[2][0];
    if (c == 'W' || (c == 'C' && best != 'W') || (c == 'R' && best == 0)) best = c;
  }
  return best;
}

std::string ScopeFileIds(const std::string& scope) {
  std::vector<std::string> ids;
  for (absl::string_view s : absl::StrSplit(AV(scope), ',')) {
    std::vector<absl::string_view> p = absl::StrSplit(s, ':');
    if (p.size() == 3 && p[0] == "file" && p[2].size() == 1 && IsFileId(SV(p[1]))) ids.emplace_back(p[1]);
  }
  return TextArray(ids);
}

absl::StatusOr<char> ScopeLevel(db::Pool& pool, const cloudillo::v1::RequestContext& ctx, const FileRow& f) {
  if (ctx.scope().empty()) return char(0);
  if (char direct = ScopeAccess(ctx.scope(), f.file_id); direct != 0) return direct;
  // A trashed file has left its folder (parent_id moves to the trash), so only live
  // files below the folder are reached; the folder itself must be a live folder.
  if (f.status != "A" || !f.has_parent) return char(0);
  const std::string ids = ScopeFileIds(ctx.scope());
  if (ids == "{}") return char(0);
  auto r = pool.Query(
      "WITH RECURSIVE up(id, depth) AS (SELECT $2::text, 1 UNION ALL SELECT p.parent_id, up.depth + 1 "
      "FROM files p JOIN up ON p.tn_id = $1 AND p.file_id = up.id WHERE p.parent_id IS NOT NULL AND "
      "up.depth < $4) SELECT a.file_id FROM up JOIN files a ON a.tn_id = $1 AND a.file_id = up.id "
      "WHERE a.file_tp = 'FLDR' AND a.status = 'A' AND a.file_id = ANY($3::text[])",
      {db::P(ctx.tn_id()), db::P(f.parent_id), db::P(ids), db::P(int64_t{kMaxFolderDepth})});
  if (!r.ok()) return r.status();
  char best = 0;
  for (const auto& row : r->rows) {
    char c = ScopeAccess(ctx.scope(), row.Str(0));
    if (c == 'W' || (c == 'C' && best != 'W') || (c == 'R' && best == 0)) best = c;
  }
  return best;
}

bool CanRead(const cloudillo::v1::RequestContext& ctx, const FileRow& f) {
  if (rpc::IsOwner(ctx)) return true;
  if (!ctx.scope().empty()) return ScopeAccess(ctx.scope(), f.file_id) != 0;
  if (f.status != "A") return false;
  if (f.visibility == "P") return true;
  return f.visibility == "V" && ctx.authenticated();
}

bool CanWrite(const cloudillo::v1::RequestContext& ctx, const FileRow& f) {
  if (rpc::IsOwner(ctx)) return true;
  return !ctx.scope().empty() && ScopeAccess(ctx.scope(), f.file_id) == 'W';
}

absl::StatusOr<std::optional<FileRow>> BlobService::LoadFile(int64_t tn_id, const std::string& file_id) {
  auto r = pool_->Query(
      std::string("SELECT ") + kFileColumns + " FROM files f WHERE f.tn_id = $1 AND f.file_id = $2",
      {db::P(tn_id), db::P(file_id)});
  if (!r.ok()) return r.status();
  if (r->empty()) return std::optional<FileRow>();
  return std::optional<FileRow>(RowToFile(r->rows[0]));
}

absl::StatusOr<FileRow> BlobService::ReadableFile(const ApiRequest& req, const std::string& file_id,
                                                  bool cached) {
  if (!IsFileId(file_id)) return rpc::BadRequest("Invalid file id");
  const int64_t tn = req.ctx().tn_id();
  absl::StatusOr<std::optional<FileRow>> f;
  if (cached) f = rows_.Get(tn, file_id, absl::Now());
  if (!cached || !f->has_value()) {
    f = LoadFile(tn, file_id);
    if (cached && f.ok() && f->has_value()) rows_.Put(tn, file_id, **f, absl::Now());
  }
  if (!f.ok()) return f.status();
  if (!f->has_value()) return rpc::NotFoundError("File not found");
  if (!CanRead(req.ctx(), **f)) {
    if (!req.ctx().scope().empty()) {  // a link to a folder above it?
      CL_ASSIGN_OR_RETURN(char level, ScopeLevel(*pool_, req.ctx(), **f));
      if (level == 0) return rpc::Forbidden();
      return std::move(**f);
    }
    CL_ASSIGN_OR_RETURN(bool related, relations_.Permits(req.ctx(), **f));
    if (related) return std::move(**f);
    auto share = SharePermission(req.ctx(), file_id);
    if (!share.ok()) return share.status();
    if (*share == 0 || (*f)->status != "A") return rpc::Forbidden();
  }
  return std::move(**f);
}

absl::StatusOr<FileRow> BlobService::WritableFile(const ApiRequest& req, const std::string& file_id) {
  if (!req.ctx().authenticated()) return rpc::Forbidden();
  if (!IsFileId(file_id)) return rpc::BadRequest("Invalid file id");
  auto f = LoadFile(req.ctx().tn_id(), file_id);
  if (!f.ok()) return f.status();
  if (!f->has_value()) return rpc::NotFoundError("File not found");
  if (!CanWrite(req.ctx(), **f)) {
    if (!req.ctx().scope().empty()) {
      CL_ASSIGN_OR_RETURN(char level, ScopeLevel(*pool_, req.ctx(), **f));
      if (level != 'W') return rpc::Forbidden();
      return std::move(**f);
    }
    auto share = SharePermission(req.ctx(), file_id);
    if (!share.ok()) return share.status();
    if (*share != 'W' || (*f)->status != "A") return rpc::Forbidden();
  }
  return std::move(**f);
}

nlohmann::ordered_json BlobService::FileView(const cloudillo::v1::RequestContext& ctx, const FileRow& f,
                                             const nlohmann::json* user_data) {
  nlohmann::ordered_json v;
  v["fileId"] = f.file_id;
  if (f.has_parent) v["parentId"] = f.parent_id;
  if (f.has_root) v["rootId"] = f.root_id;
  v["owner"] = {{"idTag", ctx.id_tag()}};
  if (!f.creator.empty()) v["creator"] = {{"idTag", f.creator}};
  if (!f.preset.empty()) v["preset"] = f.preset;
  if (!f.content_type.empty()) v["contentType"] = f.content_type;
  v["fileName"] = f.file_name;
  v["fileTp"] = f.file_tp;
  v["createdAt"] = f.created_at;
  v["modifiedAt"] = f.modified_at;
  v["status"] = f.status;
  if (!f.tags.empty()) v["tags"] = f.tags;
  if (!f.visibility.empty()) v["visibility"] = f.visibility;
  v["accessLevel"] = CanWrite(ctx, f) ? "write" : "read";
  if (user_data) v["userData"] = *user_data;
  if (!f.x_json.empty()) {
    auto x = nlohmann::json::parse(f.x_json, nullptr, false);
    if (!x.is_discarded()) v["x"] = x;
  }
  return v;
}

}  // namespace cloudillo::blob
