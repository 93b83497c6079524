#include "file_access.h"

#include "blob_service.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "file_ids.h"
#include "file_rows.h"

namespace cloudillo::blob {
namespace {

using cloudillo::v1::FileAccessReply;

bool NameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

FileAccessReply::Access FromLetter(char c) {
  switch (c) {
    case 'W':
      return FileAccessReply::WRITE;
    case 'C':
      return FileAccessReply::COMMENT;
    case 'R':
      return FileAccessReply::READ;
    default:
      return FileAccessReply::NONE;
  }
}

}  // namespace

bool IsStoreId(std::string_view file_id) {
  if (file_id.substr(0, 2) != "s~") return false;
  std::string_view app = file_id.substr(2);
  if (app.empty() || app.size() > 64) return false;
  size_t at = app.find('@');
  if (at != std::string_view::npos) {
    std::string_view name = app.substr(0, at), domain = app.substr(at + 1);
    if (name.empty() || domain.empty() || !(name[0] >= 'a' && name[0] <= 'z')) return false;
    for (char c : name)
      if (!NameChar(c)) return false;
    for (char c : domain)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
    return true;
  }
  if (!((app[0] >= 'a' && app[0] <= 'z') || app[0] == '_')) return false;
  for (char c : app)
    if (!NameChar(c)) return false;
  return true;
}

grpc::ServerUnaryReactor* FileAccessService::CheckFileAccess(grpc::CallbackServerContext* ctx,
                                                             const cloudillo::v1::FileAccessRequest* req,
                                                             FileAccessReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return Check(*req); });
}

absl::StatusOr<FileAccessReply> FileAccessService::Check(const cloudillo::v1::FileAccessRequest& req) {
  const auto& ctx = req.ctx();
  FileAccessReply out;
  if (ctx.tn_id() <= 0) return out;
  bool store = IsStoreId(req.file_id());
  if (!store && !IsFileId(req.file_id())) return rpc::BadRequest("Invalid file id");
  // Stores appear on first use (PROTOCOL §5.1), for authenticated callers only; a
  // concurrent first use is the same insert.
  if (store && ctx.authenticated() && !req.ensure_store_tp().empty()) {
    if (req.ensure_store_tp() != "CRDT" && req.ensure_store_tp() != "RTDB")
      return rpc::BadRequest("Invalid store type");
    auto st = pool_->Query(
        "INSERT INTO files (tn_id, file_id, file_tp, file_name, content_type, creator) VALUES ($1, $2, $3, "
        "$4, "
        "'application/json', $5) ON CONFLICT (tn_id, file_id) DO NOTHING",
        {db::P(ctx.tn_id()), db::P(req.file_id()), db::P(req.ensure_store_tp()),
         db::P(req.file_id().substr(2)), db::P(ctx.subject())});
    if (!st.ok()) return st.status();
  }
  auto r = pool_->Query(
      std::string("SELECT ") + kFileColumns + " FROM files f WHERE f.tn_id = $1 AND f.file_id = $2",
      {db::P(ctx.tn_id()), db::P(req.file_id())});
  if (!r.ok()) return r.status();
  if (r->empty()) return out;
  FileRow f = RowToFile(r->rows[0]);
  out.set_exists(true);
  out.set_file_tp(f.file_tp);
  if (rpc::IsOwner(ctx)) {
    out.set_access(FileAccessReply::WRITE);
    return out;
  }
  if (!ctx.scope().empty()) {
    // Share links and `via` tokens: the scope names the file, or a folder above it,
    // and the level granted (the exchange already took min(requested, link permission)).
    auto level = ScopeLevel(*pool_, ctx, f);
    if (!level.ok()) return level.status();
    out.set_access(FromLetter(*level));
    return out;
  }
  if (f.status != "A") return out;
  char level = CanRead(ctx, f) ? 'R' : 0;
  if (level == 0 && relations_) {
    CL_ASSIGN_OR_RETURN(bool related, relations_->Permits(ctx, f));
    if (related) level = 'R';
  }
  if (ctx.authenticated() && !ctx.subject().empty()) {
    auto share = pool_->Query(
        "SELECT permission FROM file_shares WHERE tn_id = $1 AND file_id = $2 AND subject_id = $3 AND "
        "(expires_at IS NULL OR expires_at > now())",
        {db::P(ctx.tn_id()), db::P(f.file_id), db::P(ctx.subject())});
    if (!share.ok()) return share.status();
    if (!share->empty()) {
      char s = share->rows[0].Str(0).empty() ? 0 : share->rows[0].Str(0)[0];
      if (FromLetter(s) > FromLetter(level)) level = s;
    }
  }
  out.set_access(FromLetter(level));
  return out;
}

}  // namespace cloudillo::blob
