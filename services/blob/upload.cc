// POST /api/files/{preset}/{fileName} (PROTOCOL §4.3): the body streams in, is hashed
// and spooled as it arrives, and becomes a file only once it arrived whole: a
// truncated or aborted upload leaves nothing (its spool file is removed, and one left
// by a crash is removed at the next start).
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "blob_service.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/deadline.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/status.h"
#include "file_rows.h"
#include "image_variants.h"
#include "presets.h"

namespace cloudillo::blob {
namespace {

using cloudillo::v1::ApiUploadPart;

absl::Status TooLarge() {
  return rpc::ApiError(absl::StatusCode::kResourceExhausted, "E-VAL-INVALID", "Upload too large", {}, 413);
}
absl::Status OverQuota(uint64_t quota, uint64_t used) {
  return rpc::ApiError(absl::StatusCode::kResourceExhausted, "E-SYS-IO",
                       "Storage quota of this tenant exceeded",
                       nlohmann::json{{"quota", quota}, {"used", used}}.dump(), 507);
}

const std::string& Header(const ApiRequest& req, const std::string& name) {
  static const std::string kEmpty;
  auto it = req.headers().find(name);
  return it == req.headers().end() ? kEmpty : it->second;
}

// The declared Content-Length, when the client sent one (a chunked body has none).
std::optional<uint64_t> DeclaredLength(const ApiRequest& req) {
  uint64_t n = 0;
  const std::string& v = Header(req, "content-length");
  if (v.empty() || !absl::SimpleAtoi(AV(v), &n)) return std::nullopt;
  return n;
}

absl::Time DeadlineOf(grpc::CallbackServerContext* ctx) {
  auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

class UploadReactor final : public grpc::ServerReadReactor<ApiUploadPart> {
 public:
  UploadReactor(BlobService& s, grpc::CallbackServerContext* ctx, ApiReply* reply, std::string picture)
      : s_(s), ctx_(ctx), reply_(reply), deadline_(DeadlineOf(ctx)), picture_(std::move(picture)) {
    StartRead(&part_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the call was cancelled
      if (!spool_) return Done(rpc::BadRequest("Upload without a head"), &s_.metrics().refused);
      return Submit([this] { Complete(); });
    }
    if (!spool_) {
      if (!part_.has_head()) return Done(rpc::BadRequest("Upload without a head"), &s_.metrics().refused);
      head_ = std::move(*part_.mutable_head());
      if (absl::Status st = s_.CheckUploadHead(head_, picture_); !st.ok())
        return Done(st, &s_.metrics().refused);
      return Submit([this] {
        // The quota is checked again at the commit; this stops an upload that can
        // never fit as soon as it passes what is left, not after spooling all of it.
        auto quota = s_.QuotaOf(head_.ctx());
        if (!quota.ok()) return Done(quota.status(), &s_.metrics().failed);
        auto left = s_.QuotaLeft(head_.ctx().tn_id(), *quota);
        if (!left.ok()) return Done(left.status(), &s_.metrics().failed);
        quota_ = *quota;
        quota_left_ = *left;
        auto f = SpoolFile::Create(s_.store().spool_dir(), WriteBehind());
        if (!f.ok()) return Done(f.status(), &s_.metrics().failed);
        spool_ = std::move(*f);
        StartRead(&part_);
      });
    }
    if (!part_.has_chunk()) return Done(rpc::BadRequest("A second upload head"), &s_.metrics().refused);
    Submit([this] {
      const std::string& chunk = part_.chunk();
      s_.metrics().upload_bytes.Increment(double(chunk.size()));
      if (spool_->size() + chunk.size() > s_.options().max_upload_bytes)
        return Done(TooLarge(), &s_.metrics().refused);
      if (spool_->size() + chunk.size() > quota_left_)
        return Done(OverQuota(quota_, quota_ - quota_left_), &s_.metrics().refused);
      sha_.Update(chunk);
      if (absl::Status st = spool_->Append(chunk); !st.ok()) return Done(st, &s_.metrics().failed);
      StartRead(&part_);
    });
  }

  void OnDone() override { delete this; }

 private:
  void Submit(std::function<void()> job) {
    if (!s_.workers().TrySubmit([this, job = std::move(job)] {
          DeadlineScope scope(deadline_);
          job();
        })) {
      Done(absl::UnavailableError("overloaded: worker queue full"), &s_.metrics().failed);
    }
  }

  // The local store keeps the spool file as the blob: flush it on the workers while
  // it grows. An object store reads it back once and drops it, unsynced.
  BackgroundRunner WriteBehind() {
    if (!s_.store().keeps_spool_files()) return nullptr;
    rpc::WorkerPool* workers = &s_.workers();
    return [workers](std::function<void()> job) { return workers->TrySubmit(std::move(job)); };
  }

  // On a worker, after the client's last chunk.
  void Complete() {
    if (ctx_->IsCancelled()) return Done(absl::CancelledError("upload aborted"), &s_.metrics().aborted);
    // A body cut short by a connection that ended cleanly is no file either.
    if (auto declared = DeclaredLength(head_); declared && *declared != spool_->size())
      return Done(rpc::BadRequest("Upload shorter than its Content-Length"), &s_.metrics().aborted);
    auto reply = s_.FinishUpload(head_, std::move(spool_), sha_.Finish());
    if (!reply.ok()) {
      bool client_fault = reply.status().code() == absl::StatusCode::kInvalidArgument ||
                          reply.status().code() == absl::StatusCode::kResourceExhausted ||
                          reply.status().code() == absl::StatusCode::kNotFound;
      if (!client_fault) LogWarn("upload_failed", {{"error", std::string(reply.status().message())}});
      return Done(reply.status(), client_fault ? &s_.metrics().refused : &s_.metrics().failed);
    }
    if (!picture_.empty()) {
      if (absl::Status st = s_.PublishPicture(head_, picture_, *reply); !st.ok())
        return Done(st, &s_.metrics().failed);
    }
    *reply_ = std::move(*reply);
    Done(absl::OkStatus(), nullptr);
  }

  void Done(const absl::Status& st, prometheus::Counter* outcome) {
    if (outcome) outcome->Increment();
    spool_.reset();  // removes the spool file of an upload that did not finish
    Finish(rpc::ToGrpcStatus(st));
  }

  BlobService& s_;
  grpc::CallbackServerContext* ctx_;
  ApiReply* reply_;
  absl::Time deadline_;
  std::string picture_;
  uint64_t quota_ = 0;
  uint64_t quota_left_ = UINT64_MAX;
  ApiUploadPart part_;
  ApiRequest head_;
  std::unique_ptr<SpoolFile> spool_;
  Sha256Stream sha_;
};

// `parentId` of an upload or a new file: NULL for the root.
absl::StatusOr<db::Param> ParentParam(const std::string& parent) {
  if (parent.empty() || parent == "__root__") return db::Null();
  if (!IsFileId(parent)) return rpc::BadRequest("Invalid parentId");
  return db::P(parent);
}

}  // namespace

grpc::ServerReadReactor<ApiUploadPart>* BlobService::Upload(grpc::CallbackServerContext* ctx,
                                                            ApiReply* reply) {
  return new UploadReactor(*this, ctx, reply, "");
}

grpc::ServerReadReactor<ApiUploadPart>* BlobService::PutProfileImage(grpc::CallbackServerContext* ctx,
                                                                     ApiReply* reply) {
  return new UploadReactor(*this, ctx, reply, "profile");
}

grpc::ServerReadReactor<ApiUploadPart>* BlobService::PutCoverImage(grpc::CallbackServerContext* ctx,
                                                                   ApiReply* reply) {
  return new UploadReactor(*this, ctx, reply, "cover");
}

absl::StatusOr<uint64_t> BlobService::QuotaLeft(int64_t tn_id, uint64_t quota) {
  if (quota == 0) return UINT64_MAX;
  CL_ASSIGN_OR_RETURN(uint64_t u, StoredBytes(tn_id));
  return u >= quota ? 0 : quota - u;
}

void BlobService::ConnectIdentity(std::shared_ptr<grpc::Channel> channel) {
  identity_ = cloudillo::v1::Identity::NewStub(channel);
  relations_.Connect(cloudillo::v1::Identity::NewStub(channel));
}

absl::Status BlobService::PublishPicture(const ApiRequest& head, const std::string& picture,
                                         const ApiReply& reply) {
  if (!identity_) return absl::UnavailableError("identity is not connected");
  auto data = nlohmann::json::parse(reply.data_json(), nullptr, false);
  if (!data.is_object() || !data["fileId"].is_string())
    return absl::InternalError("upload answer without fileId");
  cloudillo::v1::SetProfileImageRequest req;
  req.set_tn_id(head.ctx().tn_id());
  req.set_which(picture);
  req.set_file_id(data["fileId"].get<std::string>());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  cloudillo::v1::Empty out;
  return rpc::FromGrpcStatus(identity_->SetProfileImage(&ctx, req, &out));
}

absl::Status BlobService::CheckUploadHead(ApiRequest& head, const std::string& picture) const {
  if (!rpc::IsOwner(head.ctx())) return rpc::Forbidden();
  if (!picture.empty()) {
    // Always an image, under the preset that makes its tiers.
    const std::string& ct = Header(head, "content-type");
    if (ClassOf(ct) != "vis" || FormatOfContentType(ct) == "svg")
      return rpc::BadRequest("A profile picture or cover must be an image");
    (*head.mutable_path())["preset"] = picture == "profile" ? "profile-picture" : "cover";
    (*head.mutable_path())["fileName"] = picture == "profile" ? "profile-picture" : "cover";
    // Other nodes fetch avatars and covers without a token (PROTOCOL §4.6).
    (*head.mutable_query())["visibility"] = "P";
  }
  if (!IsValidPresetName(rpc::PathParam(head, "preset"))) return rpc::BadRequest("Invalid preset");
  if (!IsValidFileName(rpc::PathParam(head, "fileName"))) return rpc::BadRequest("Invalid file name");
  if (auto declared = DeclaredLength(head); declared && *declared > options_.max_upload_bytes)
    return TooLarge();
  if (auto p = ParentParam(rpc::QueryParam(head, "parentId")); !p.ok()) return p.status();
  const std::string& vis = rpc::QueryParam(head, "visibility");
  if (!vis.empty() && !IsSettableVisibility(vis)) return rpc::BadRequest("Invalid visibility");
  for (absl::string_view t : absl::StrSplit(AV(rpc::QueryParam(head, "tags")), ',', absl::SkipEmpty())) {
    if (!IsValidTag(SV(t))) return rpc::BadRequest("Invalid tag");
  }
  return absl::OkStatus();
}

absl::StatusOr<ApiReply> BlobService::FinishUpload(const ApiRequest& head, std::unique_ptr<SpoolFile> spool,
                                                   const std::string& digest) {
  const auto& ctx = head.ctx();
  const int64_t tn = ctx.tn_id();
  Preset preset = PresetNamed(rpc::PathParam(head, "preset"));
  std::string ct = Header(head, "content-type");
  if (ct.empty() || ct.size() > 255) ct = "application/octet-stream";
  std::string cls = ClassOf(ct);
  if (cls == "raw" && !preset.allows_raw)
    return rpc::BadRequest("This preset does not accept this content type (use the `file` preset)");

  std::vector<Variant> variants;
  variants.push_back({"orig", ContentId('b', digest), FormatOfContentType(ct), int64_t(spool->size())});
  std::vector<RenderedVariant> rendered;
  bool image = cls == "vis" && variants[0].format != "svg";
  if (image) {
    auto info = ProbeImage(spool->path());
    if (!info.ok()) return rpc::BadRequest("Not a readable image");
    variants[0].width = info->width;
    variants[0].height = info->height;
    absl::Time t0 = absl::Now();
    auto r = RenderVariants(spool->path(), *info, preset.images, store_->spool_dir());
    if (!r.ok()) {
      if (r.status().code() == absl::StatusCode::kInvalidArgument)
        return rpc::BadRequest(SV(r.status().message()));
      return rpc::ApiError(absl::StatusCode::kInternal, "E-IMG-PROCFAIL", "Image processing failed");
    }
    metrics_.variant_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - t0));
    rendered = std::move(*r);
    for (const RenderedVariant& v : rendered)
      variants.push_back({v.name, v.blob_id, v.format, int64_t(v.file->size()), v.width, v.height});
  }
  const Variant orig = variants[0];
  std::string descriptor = BuildDescriptor(variants);  // sorts `variants`
  Sha256Stream dsha;
  dsha.Update(descriptor);
  const std::string file_id = ContentId('f', dsha.Finish());
  auto parent = ParentParam(rpc::QueryParam(head, "parentId"));
  if (!parent.ok()) return parent.status();
  const std::string& vis = rpc::QueryParam(head, "visibility");
  std::vector<std::string> tags;
  for (absl::string_view t : absl::StrSplit(AV(rpc::QueryParam(head, "tags")), ',', absl::SkipEmpty()))
    tags.emplace_back(t);
  nlohmann::json x = nullptr;
  if (image) x = {{"dim", {orig.width, orig.height}}};

  NewBlobFile nf;
  nf.tn_id = tn;
  nf.file_id = file_id;
  nf.parent = *parent;
  nf.file_name = rpc::PathParam(head, "fileName");
  nf.content_type = ct;
  nf.preset = preset.name;
  nf.descriptor = descriptor;
  nf.creator = ctx.subject();
  nf.visibility = vis.empty() ? db::Null() : db::P(vis);
  nf.x = x;
  nf.tags = tags;
  nf.variants = variants;
  // Which spool file holds which blob.
  nf.files = {{orig.blob_id, spool.get()}};
  for (RenderedVariant& v : rendered) nf.files.push_back({v.blob_id, v.file.get()});
  CL_ASSIGN_OR_RETURN(nf.quota, QuotaOf(head.ctx()));
  uint64_t new_bytes = 0;
  CL_ASSIGN_OR_RETURN(std::optional<FileRow> existing, StoreBlobFile(nf, &new_bytes));
  if (existing) {
    metrics_.existed.Increment();
    nlohmann::ordered_json view = FileView(ctx, *existing, nullptr);
    view["existed"] = true;
    return rpc::Data(view);
  }
  metrics_.stored.Increment();
  metrics_.stored_bytes.Increment(double(new_bytes));
  nlohmann::ordered_json data;
  data["fileId"] = file_id;
  if (image) {
    data["dim"] = {orig.width, orig.height};
    for (const Variant& v : variants) {
      if (v.name == "vis.tn") data["thumbnailVariantId"] = v.blob_id;
    }
  }
  ApiReply reply = rpc::Data(data);
  reply.set_http_status(201);
  return reply;
}

absl::StatusOr<std::optional<FileRow>> BlobService::StoreBlobFile(const NewBlobFile& nf,
                                                                  uint64_t* new_bytes) {
  const int64_t tn = nf.tn_id;
  uint64_t incoming = 0;
  for (const Variant& v : nf.variants) incoming += uint64_t(v.size);
  std::optional<FileRow> existing;
  absl::Status st = pool_->Transact([&](db::Tx& tx) -> absl::Status {
    // One writer per tenant at a time between here and the commit, against garbage
    // collection (which removes blobs no row refers to) and for the quota sum.
    CL_RETURN_IF_ERROR(
        tx.Query("SELECT pg_advisory_xact_lock(hashtextextended('blob.tenant', $1))", {db::P(tn)}).status());
    CL_ASSIGN_OR_RETURN(auto found, tx.Query(std::string("SELECT ") + kFileColumns +
                                                 " FROM files f WHERE f.tn_id = $1 AND f.file_id = $2",
                                             {db::P(tn), db::P(nf.file_id)}));
    if (!found.empty()) {
      existing = RowToFile(found.rows[0]);
      return absl::OkStatus();
    }
    if (nf.parent.has_value()) {
      CL_ASSIGN_OR_RETURN(auto p, tx.Query("SELECT 1 FROM files WHERE tn_id = $1 AND file_id = $2 AND "
                                           "file_tp = 'FLDR' AND status = 'A'",
                                           {db::P(tn), nf.parent}));
      if (p.empty()) return rpc::NotFoundError("Parent folder not found");
    }
    const uint64_t quota = nf.quota.value_or(options_.quota_bytes);
    if (quota != 0) {
      CL_ASSIGN_OR_RETURN(
          auto used,
          tx.Query("SELECT coalesce(sum(size), 0)::bigint FROM blobs WHERE tn_id = $1", {db::P(tn)}));
      uint64_t u = uint64_t(used.rows[0].Int(0));
      if (u + incoming > quota) return OverQuota(quota, u);
    }
    for (auto& [blob_id, file] : nf.files) {
      CL_ASSIGN_OR_RETURN(auto ins, tx.Query("INSERT INTO blobs (tn_id, blob_id, size) VALUES ($1, $2, $3) "
                                             "ON CONFLICT DO NOTHING",
                                             {db::P(tn), db::P(blob_id), db::P(int64_t(file->size()))}));
      if (ins.affected > 0) *new_bytes += file->size();
      // Renamed into place while the lock is held: collection cannot remove it meanwhile.
      CL_RETURN_IF_ERROR(store_->Put(tn, blob_id, *file));
    }
    CL_RETURN_IF_ERROR(
        tx.Query("INSERT INTO files (tn_id, file_id, parent_id, file_tp, file_name, "
                 "content_type, preset, descriptor, "
                 "creator, visibility, x, tags) VALUES ($1, $2, $3, 'BLOB', $4, $5, $6, $7, "
                 "$8, $9, $10::jsonb, $11)",
                 {db::P(tn), db::P(nf.file_id), nf.parent, db::P(nf.file_name), db::P(nf.content_type),
                  db::P(nf.preset), db::P(nf.descriptor), db::P(nf.creator), nf.visibility,
                  nf.x.is_null() ? db::Null() : db::P(nf.x.dump()), db::P(TextArray(nf.tags))})
            .status());
    for (const Variant& v : nf.variants) {
      CL_RETURN_IF_ERROR(
          tx.Query("INSERT INTO file_variants (tn_id, file_id, variant, blob_id, format, size, width, "
                   "height) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                   {db::P(tn), db::P(nf.file_id), db::P(v.name), db::P(v.blob_id), db::P(v.format),
                    db::P(v.size), db::P(v.width), db::P(v.height)})
              .status());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return existing;
}

}  // namespace cloudillo::blob
