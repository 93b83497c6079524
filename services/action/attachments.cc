#include "attachments.h"

#include "absl/time/clock.h"
#include "cloudillo/core/log.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::action {
namespace {

// A whole file may be large and the peer slow; the inbound row waits for it.
constexpr absl::Duration kFetchTimeout = absl::Seconds(300);
// One UPDATE in blob; the client's POST /api/actions waits for it.
constexpr absl::Duration kRaiseTimeout = absl::Seconds(5);

// S (the subscribers of a container) and direct open no file: a file has no
// subscribers of its own, and blob refuses those letters.
bool OpensFiles(const std::string& v) { return !v.empty() && v != "S" && v != "D"; }

bool Refuses(const absl::Status& st) {
  return absl::IsDataLoss(st) || absl::IsResourceExhausted(st) || absl::IsInvalidArgument(st);
}

// The source does not have the file or does not let us read it: the action keeps its
// reference to the source node, as before attachments were fetched.
bool LeftAtSource(const absl::Status& st) { return absl::IsNotFound(st) || absl::IsPermissionDenied(st); }

}  // namespace

AttachmentFetcher::AttachmentFetcher(std::shared_ptr<cloudillo::v1::RemoteFiles::StubInterface> blob,
                                     std::shared_ptr<cloudillo::v1::BlobInternal::StubInterface> files,
                                     std::shared_ptr<federation::Client> client,
                                     federation::ProxyExchange::Signer signer)
    : blob_(std::move(blob)), files_(std::move(files)), proxy_(std::move(client), std::move(signer)) {}

absl::Status AttachmentFetcher::RaiseVisibility(const Tenant& tenant,
                                                const std::vector<std::string>& file_ids,
                                                const std::string& visibility) {
  if (file_ids.empty() || !OpensFiles(visibility)) return absl::OkStatus();
  if (!files_) return absl::UnavailableError("blob is not connected");
  cloudillo::v1::RaiseVisibilityRequest req;
  req.set_tn_id(tenant.tn_id);
  for (const std::string& id : file_ids) req.add_file_ids(id);
  req.set_visibility(visibility);
  cloudillo::v1::RaiseVisibilityReply reply;
  auto ctx = rpc::ContextWithDeadline(kRaiseTimeout);
  return rpc::FromGrpcStatus(files_->RaiseVisibility(ctx.get(), req, &reply));
}

absl::Status AttachmentFetcher::Fetch(const Tenant& tenant, const std::string& source,
                                      const std::vector<std::string>& file_ids,
                                      const std::string& visibility) {
  for (const std::string& id : file_ids) {
    absl::Status st = FetchOne(tenant, source, id, visibility, true);
    if (st.ok()) continue;
    if (Refuses(st)) return st;
    if (LeftAtSource(st)) {
      LogInfo("attachment_left_at_source", {{"tn_id", tenant.tn_id},
                                            {"source", source},
                                            {"file_id", id},
                                            {"error", std::string(st.message())}});
      continue;
    }
    return absl::UnavailableError(st.message());
  }
  return absl::OkStatus();
}

absl::Status AttachmentFetcher::FetchOne(const Tenant& tenant, const std::string& source,
                                         const std::string& file_id, const std::string& visibility,
                                         bool retry) {
  if (!blob_) return absl::UnavailableError("blob is not connected");
  auto grant = proxy_.Get(tenant.tn_id, source, absl::Now());
  if (!grant.ok()) return grant.status();
  cloudillo::v1::RemoteFileRequest req;
  req.set_tn_id(tenant.tn_id);
  req.set_id_tag(source);
  req.set_file_id(file_id);
  req.set_bearer(grant->token);
  req.set_visibility(visibility);
  cloudillo::v1::RemoteFileReply reply;
  auto ctx = rpc::ContextWithDeadline(kFetchTimeout);
  absl::Status st = rpc::FromGrpcStatus(blob_->FetchRemoteFile(ctx.get(), req, &reply));
  if (absl::IsPermissionDenied(st) && retry) {
    // The peer no longer takes the cached grant (restarted, rotated its secrets).
    proxy_.Forget(tenant.tn_id, source);
    return FetchOne(tenant, source, file_id, visibility, false);
  }
  return st;
}

}  // namespace cloudillo::action
