// Loading file records, who may read or change them, and their JSON (FileView,
// PROTOCOL §4.4).
#include "file_rows.h"

#include "absl/strings/str_split.h"
#include "blob_service.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/rpc/api.h"

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

absl::StatusOr<FileRow> BlobService::ReadableFile(const ApiRequest& req, const std::string& file_id) {
  if (!IsFileId(file_id)) return rpc::BadRequest("Invalid file id");
  auto f = LoadFile(req.ctx().tn_id(), file_id);
  if (!f.ok()) return f.status();
  if (!f->has_value()) return rpc::NotFoundError("File not found");
  if (!CanRead(req.ctx(), **f)) {
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
