// BlobInternal.RaiseVisibility (blob.proto): files a tenant attaches to its own action
// become as open as the action, so that its recipients on other nodes can fetch them
// (PROTOCOL §4.6) — the reference's upgrade_file_visibility. A file is only ever made
// more open: the owner may have published it further already, and an action that is
// more closed than its files must not hide them.
#include "absl/strings/str_cat.h"
#include "blob_service.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/db/sql_text.h"
#include "cloudillo/rpc/dispatch.h"
#include "file_ids.h"

namespace cloudillo::blob {
namespace {

// An action carries a handful of attachments; this bounds one statement.
constexpr size_t kMaxFiles = 256;

}  // namespace

absl::StatusOr<int> BlobService::RaiseVisibility(int64_t tn_id, const std::vector<std::string>& file_ids,
                                                 const std::string& visibility) {
  if (tn_id <= 0) return absl::InvalidArgumentError("tn_id is required");
  if (!IsOpenVisibility(visibility))
    return absl::InvalidArgumentError("visibility must be one of P, V, 2, F, C");
  if (file_ids.size() > kMaxFiles) return absl::InvalidArgumentError("too many files");
  // An attachment that is no file id names no file of ours: nothing to open.
  std::vector<std::string> ids;
  for (const std::string& id : file_ids) {
    if (IsFileId(id)) ids.push_back(id);
  }
  if (ids.empty()) return 0;
  // One statement, so a concurrent PATCH of the visibility is never overwritten with a
  // more closed letter. A letter outside kOpenVisibilities (or NULL) ranks as direct.
  const std::string open_first = absl::StrCat("'", AV(kOpenVisibilities), "'");
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query(
          absl::StrCat("UPDATE files SET visibility = $3 WHERE tn_id = $1 AND file_id = ANY($2::text[]) "
                       "AND coalesce(strpos(",
                       open_first, ", visibility::text), 0) NOT BETWEEN 1 AND strpos(", open_first, ", $3)"),
          {db::P(tn_id), db::P(db::TextArrayLiteral(ids)), db::P(visibility)}));
  if (r.affected > 0) rows_.ForgetTenant(tn_id);  // downloads see the new letter now
  return int(r.affected);
}

grpc::ServerUnaryReactor* BlobInternalService::RaiseVisibility(
    grpc::CallbackServerContext* ctx, const cloudillo::v1::RaiseVisibilityRequest* req,
    cloudillo::v1::RaiseVisibilityReply* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::RaiseVisibilityReply> {
    std::vector<std::string> ids(req->file_ids().begin(), req->file_ids().end());
    CL_ASSIGN_OR_RETURN(int raised, blob_.RaiseVisibility(req->tn_id(), ids, req->visibility()));
    cloudillo::v1::RaiseVisibilityReply reply;
    reply.set_raised(raised);
    return reply;
  });
}

}  // namespace cloudillo::blob
