#include "access_check.h"

#include <chrono>

#include "cloudillo/core/log.h"
#include "cloudillo/rpc/api.h"

namespace cloudillo::collab {
namespace {

using cloudillo::v1::FileAccessReply;

bool HasStorePrefix(const std::string& id) { return id.rfind("s~", 0) == 0; }

}  // namespace

bool IsMetaDatabase(const std::string& file_id) {
  const size_t n = sizeof(kMetaSuffix) - 1;
  return file_id.size() > n && file_id.compare(file_id.size() - n, n, kMetaSuffix) == 0;
}

Grant Decide(const cloudillo::v1::RequestContext& ctx, const std::string& doc_id, const std::string& access,
             const FileAccessReply& file, const StoreKind& kind) {
  Grant g;
  const bool meta = std::string_view(kind.file_tp) == kRtdbStore.file_tp && IsMetaDatabase(doc_id);
  if (!file.exists()) return {kCloseNotFound, "File not found", {}};
  if (!meta && HasStorePrefix(doc_id) && file.file_tp() != kind.file_tp)
    return {kCloseStoreType, "Store type mismatch", {}};
  if (!meta && file.file_tp() != kind.file_tp) return {kCloseNotFound, "Not a document", {}};
  auto level = file.access();
  if (level == FileAccessReply::NONE) return {kCloseForbidden, "Access denied", {}};
  // Guests read; `access=read` reads; Comment is read-only for documents (§5.1).
  bool write = ctx.authenticated() && level == FileAccessReply::WRITE;
  if (access == "write" && !write) return {kCloseForbidden, "Write access denied", {}};
  if (access == "comment" && level < FileAccessReply::COMMENT) return {kCloseForbidden, "Access denied", {}};
  if (access == "read" || access == "comment") write = false;
  g.who.read_only = !write;
  if (write) {
    g.level = FileAccessReply::WRITE;
  } else if (ctx.authenticated() && access != "read" && level >= FileAccessReply::COMMENT) {
    g.level = FileAccessReply::COMMENT;
  } else {
    g.level = FileAccessReply::READ;
  }
  // A share-link visitor keeps what the link grants but not an asserted identity.
  g.who.awareness_id = ctx.authenticated() && ctx.has_sub() ? ctx.subject() : "";
  g.who.writer = ctx.authenticated() ? ctx.subject() : "";
  return g;
}

Grant AccessCheck::Check(const cloudillo::v1::ApiRequest& open, const StoreKind& kind) {
  const auto& ctx = open.ctx();
  const std::string& doc_id = rpc::PathParam(open, kind.path_param);
  const std::string& access = rpc::QueryParam(open, "access");
  if (ctx.tn_id() <= 0 || doc_id.empty() || doc_id.size() > 200)
    return {kCloseNotFound, "File not found", {}};
  if (access != "" && access != "read" && access != "write" && access != "comment")
    return {kCloseForbidden, "Invalid access", {}};
  cloudillo::v1::FileAccessRequest req;
  *req.mutable_ctx() = ctx;
  const bool meta = std::string_view(kind.file_tp) == kRtdbStore.file_tp && IsMetaDatabase(doc_id);
  // A side database is as visible as its file: the file is what blob is asked about.
  std::string checked = meta ? doc_id.substr(0, doc_id.size() - (sizeof(kMetaSuffix) - 1)) : doc_id;
  req.set_file_id(checked);
  req.set_via(rpc::QueryParam(open, "via"));
  if (HasStorePrefix(checked) && !meta) req.set_ensure_store_tp(kind.file_tp);
  FileAccessReply reply;
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status st = blob_->CheckFileAccess(&call, req, &reply);
  if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // An id that is no file id; an `s~` one names an invalid app (§5.1: 4400).
    if (HasStorePrefix(checked) && ctx.authenticated()) return {kCloseBadStore, "Invalid store id", {}};
    return {kCloseNotFound, "File not found", {}};
  }
  if (!st.ok()) {
    LogWarn("collab_access_check_failed", {{"code", int(st.error_code())}, {"error", st.error_message()}});
    return {kCloseInternal, "Internal error", {}};
  }
  return Decide(ctx, doc_id, access, reply, kind);
}

}  // namespace cloudillo::collab
