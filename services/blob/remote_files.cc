#include "remote_files.h"

#include <set>

#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::blob {
namespace {

using cloudillo::v1::RemoteFileReply;
using cloudillo::v1::RemoteFileRequest;

// The other node's answer as a status of ours: its refusals are ours to report, its
// failures make the fetch retryable (the caller's inbound action is retried).
absl::Status PeerStatus(const federation::Response& r, const std::string& what) {
  if (r.status == 404) return absl::NotFoundError(what + ": not found on the remote node");
  if (r.status == 401 || r.status == 403)
    return absl::PermissionDeniedError(what + ": refused by the remote node");
  return absl::UnavailableError(what + ": remote node answered " + std::to_string(r.status));
}

std::string HashId(char prefix, std::string_view bytes) {
  Sha256Stream sha;
  sha.Update(bytes);
  return ContentId(prefix, sha.Finish());
}

}  // namespace

RemoteFileService::RemoteFileService(BlobService& blob, std::shared_ptr<db::Pool> pool,
                                     std::shared_ptr<federation::Client> client, RemoteFileOptions options)
    : blob_(blob), pool_(std::move(pool)), client_(std::move(client)), options_(options) {}

grpc::ServerUnaryReactor* RemoteFileService::FetchRemoteFile(grpc::CallbackServerContext* ctx,
                                                             const RemoteFileRequest* req,
                                                             RemoteFileReply* out) {
  auto* reactor = ctx->DefaultReactor();
  if (!blob_.workers().TrySubmit([this, req, out, reactor] {
        auto r = Fetch(*req);
        if (r.ok()) *out = std::move(*r);
        reactor->Finish(rpc::ToGrpcStatus(r.status()));
      })) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "overloaded: worker queue full"));
  }
  return reactor;
}

absl::StatusOr<RemoteFileReply> RemoteFileService::Fetch(const RemoteFileRequest& req) {
  const int64_t tn = req.tn_id();
  const std::string& file_id = req.file_id();
  if (tn <= 0) return absl::InvalidArgumentError("tn_id is required");
  if (!IsContentId(file_id, 'f')) return absl::InvalidArgumentError("not a content-addressed file id");
  if (!client_) return absl::UnavailableError("outbound federation is not configured");
  RemoteFileReply reply;
  reply.set_file_id(file_id);
  CL_ASSIGN_OR_RETURN(auto have,
                      pool_->Query("SELECT descriptor FROM files WHERE tn_id = $1 AND file_id = $2",
                                   {db::P(tn), db::P(file_id)}));
  if (!have.empty()) {
    blob_.metrics().remote_existed.Increment();
    reply.set_descriptor_text(have.rows[0].Str(0));
    reply.set_existed(true);
    return reply;
  }
  auto refused = [this](absl::Status st) {
    (st.code() == absl::StatusCode::kDataLoss || st.code() == absl::StatusCode::kResourceExhausted
         ? blob_.metrics().remote_refused
         : blob_.metrics().remote_failed)
        .Increment();
    return st;
  };
  std::map<std::string, std::string> headers;
  if (!req.bearer().empty()) headers["Authorization"] = "Bearer " + req.bearer();
  const std::string base = "/api/files/" + file_id;

  // 1. The descriptor, which must be what the file id is the hash of.
  auto d = client_->Get(req.id_tag(), base + "/descriptor", headers);
  if (!d.ok()) return refused(d.status());
  if (d->status != 200) return refused(PeerStatus(*d, "descriptor"));
  auto dj = nlohmann::json::parse(d->body, nullptr, false);
  if (!dj.is_object() || !dj.contains("data") || !dj["data"].is_string())
    return refused(absl::DataLossError("the remote descriptor answer is malformed"));
  const std::string descriptor = dj["data"].get<std::string>();
  if (HashId('f', descriptor) != file_id)
    return refused(absl::DataLossError("the remote descriptor does not hash to the file id"));
  auto variants = ParseDescriptor(descriptor);
  if (!variants || variants->empty() || variants->size() > options_.max_variants)
    return refused(absl::DataLossError("the remote descriptor does not parse"));
  uint64_t total = 0;
  for (const Variant& v : *variants) total += v.size < 0 ? options_.max_file_bytes + 1 : uint64_t(v.size);
  if (total > options_.max_file_bytes)
    return refused(absl::ResourceExhaustedError("the remote file is larger than this node fetches"));

  // The tenant's plan quota, as for its uploads: a file that cannot fit is not even
  // fetched, and StoreBlobFile checks again under the tenant's lock (507 beyond it).
  CL_ASSIGN_OR_RETURN(const uint64_t quota, blob_.QuotaOfTenant(tn));
  CL_ASSIGN_OR_RETURN(const uint64_t left, blob_.QuotaLeft(tn, quota));
  if (total > left) {
    return refused(rpc::ApiError(absl::StatusCode::kResourceExhausted, "E-SYS-IO",
                                 "Storage quota of this tenant exceeded",
                                 nlohmann::json{{"quota", quota}, {"used", quota - left}}.dump(), 507));
  }

  // 2. Name and type; optional: the descriptor alone is enough to serve the bytes.
  std::string name = file_id, content_type;
  nlohmann::json x = nullptr;
  if (auto m = client_->Get(req.id_tag(), base + "/metadata", headers); m.ok() && m->status == 200) {
    auto mj = nlohmann::json::parse(m->body, nullptr, false);
    if (mj.is_object() && mj["data"].is_object()) {
      const auto& md = mj["data"];
      if (md.contains("fileName") && md["fileName"].is_string() &&
          IsValidFileName(md["fileName"].get<std::string>()))
        name = md["fileName"].get<std::string>();
      if (md.contains("contentType") && md["contentType"].is_string() &&
          md["contentType"].get<std::string>().size() < 256)
        content_type = md["contentType"].get<std::string>();
      if (md.contains("x") && md["x"].is_object() && md["x"].dump().size() < 4096) x = md["x"];
    }
  }
  if (content_type.empty()) {
    content_type = ContentTypeOfFormat(variants->front().format);
    for (const Variant& v : *variants) {
      if (v.name == "orig") content_type = ContentTypeOfFormat(v.format);
    }
  }

  // 3. Every variant, each checked against its id and size before it is kept.
  std::vector<std::unique_ptr<SpoolFile>> spools;
  NewBlobFile nf;
  std::set<std::string> seen;
  uint64_t fetched = 0;
  for (const Variant& v : *variants) {
    if (!seen.insert(v.blob_id).second) continue;
    auto b = client_->Get(req.id_tag(), "/api/files/variant/" + v.blob_id, headers);
    if (!b.ok()) return refused(b.status());
    if (b->status != 200) return refused(PeerStatus(*b, "variant " + v.name));
    if (b->body.size() != uint64_t(v.size) || HashId('b', b->body) != v.blob_id) {
      LogWarn("remote_file_mismatch", {{"variant", v.name}, {"bytes", int64_t(b->body.size())}});
      return refused(absl::DataLossError("the remote bytes of variant " + v.name + " do not match its id"));
    }
    fetched += b->body.size();
    CL_ASSIGN_OR_RETURN(auto spool, SpoolFile::Create(blob_.store().spool_dir()));
    CL_RETURN_IF_ERROR(spool->Append(b->body));
    CL_RETURN_IF_ERROR(spool->Sync());
    nf.files.push_back({v.blob_id, spool.get()});
    spools.push_back(std::move(spool));
  }
  nf.tn_id = tn;
  nf.file_id = file_id;
  nf.parent = db::Null();
  // The carrying action's letter, as the reference keeps it; anything else (an avatar,
  // S, direct) keeps the copy to this tenant's owner.
  nf.visibility = IsOpenVisibility(req.visibility()) ? db::P(req.visibility()) : db::Null();
  nf.file_name = name;
  nf.content_type = content_type;
  nf.preset = "remote";
  nf.descriptor = descriptor;
  nf.creator = req.id_tag();
  nf.x = x;
  nf.variants = *variants;
  nf.quota = quota;
  uint64_t new_bytes = 0;
  auto stored = blob_.StoreBlobFile(nf, &new_bytes);
  if (!stored.ok()) return refused(stored.status());
  auto& existing = *stored;
  (existing ? blob_.metrics().remote_existed : blob_.metrics().remote_stored).Increment();
  blob_.metrics().stored_bytes.Increment(double(new_bytes));
  reply.set_descriptor_text(descriptor);
  reply.set_existed(existing.has_value());
  reply.set_fetched_bytes(int64_t(fetched));
  return reply;
}

}  // namespace cloudillo::blob
