#include "access_check.h"

#include <chrono>

#include "cloudillo/core/log.h"
#include "cloudillo/rpc/api.h"

namespace cloudillo::collab {
namespace {

using cloudillo::v1::FileAccessReply;

bool HasStorePrefix(const std::string& id) { return id.rfind("s~", 0) == 0; }

}  // namespace

Grant Decide(const cloudillo::v1::RequestContext& ctx, const std::string& doc_id, const std::string& access,
             const FileAccessReply& file) {
  Grant g;
  if (!file.exists()) return {kCloseNotFound, "File not found", {}};
  if (HasStorePrefix(doc_id) && file.file_tp() != "CRDT") return {kCloseStoreType, "Store type mismatch", {}};
  if (file.file_tp() != "CRDT") return {kCloseNotFound, "Not a document", {}};
  auto level = file.access();
  if (level == FileAccessReply::NONE) return {kCloseForbidden, "Access denied", {}};
  // Guests read; `access=read` reads; Comment is read-only for documents (§5.1).
  bool write = ctx.authenticated() && level == FileAccessReply::WRITE;
  if (access == "write" && !write) return {kCloseForbidden, "Write access denied", {}};
  if (access == "comment" && level < FileAccessReply::COMMENT) return {kCloseForbidden, "Access denied", {}};
  if (access == "read" || access == "comment") write = false;
  g.who.read_only = !write;
  // A share-link visitor keeps what the link grants but not an asserted identity.
  g.who.awareness_id = ctx.authenticated() && ctx.has_sub() ? ctx.subject() : "";
  g.who.writer = ctx.authenticated() ? ctx.subject() : "";
  return g;
}

Grant AccessCheck::Check(const cloudillo::v1::ApiRequest& open) {
  const auto& ctx = open.ctx();
  const std::string& doc_id = rpc::PathParam(open, "docId");
  const std::string& access = rpc::QueryParam(open, "access");
  if (ctx.tn_id() <= 0 || doc_id.empty() || doc_id.size() > 200)
    return {kCloseNotFound, "File not found", {}};
  if (access != "" && access != "read" && access != "write" && access != "comment")
    return {kCloseForbidden, "Invalid access", {}};
  cloudillo::v1::FileAccessRequest req;
  *req.mutable_ctx() = ctx;
  req.set_file_id(doc_id);
  req.set_via(rpc::QueryParam(open, "via"));
  if (HasStorePrefix(doc_id)) req.set_ensure_store_tp("CRDT");
  FileAccessReply reply;
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status st = blob_->CheckFileAccess(&call, req, &reply);
  if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // An id that is no file id; an `s~` one names an invalid app (§5.1: 4400).
    if (HasStorePrefix(doc_id) && ctx.authenticated()) return {kCloseBadStore, "Invalid store id", {}};
    return {kCloseNotFound, "File not found", {}};
  }
  if (!st.ok()) {
    LogWarn("crdt_access_check_failed", {{"code", int(st.error_code())}, {"error", st.error_message()}});
    return {kCloseInternal, "Internal error", {}};
  }
  return Decide(ctx, doc_id, access, reply);
}

}  // namespace cloudillo::collab
