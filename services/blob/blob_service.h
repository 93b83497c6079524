// blob: content-addressed immutable files and the file records over them (DESIGN
// "Shape"; PROTOCOL §4, §8 "Files"). REST routes only, from the gateway.
//
// Uploads stream in (a client-streaming call) and are hashed and spooled to disk as
// they arrive: no upload is ever whole in memory. Downloads stream out (a
// server-streaming call) one chunk at a time, the next read only once the previous
// chunk was written. Disk, libvips and PostgreSQL run on the worker pool, never on
// gRPC's threads; each stream has at most one job queued at a time.
//
// Who may do what: the tenant's owner everything; a token scoped `file:<id>:R|C|W`
// reads that file (and with W renames it); anyone reads a file of visibility P, any
// authenticated caller one of visibility V, a follower or a connection of the tenant
// one of F, a connection one of C (relationship_gate.h); a share entry its permission.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "blob_metrics.h"
#include "blob_store.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/v1/blob.grpc.pb.h"
#include "cloudillo/v1/identity.grpc.pb.h"
#include "file_ids.h"
#include "file_row.h"
#include "file_row_cache.h"
#include "relationship_gate.h"

namespace cloudillo::blob {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

struct BlobOptions {
  uint64_t max_upload_bytes = 100ull << 20;  // one upload (413 beyond)
  uint64_t quota_bytes = 0;                  // stored bytes per tenant; 0: no quota (507 beyond)
  size_t download_chunk = 256 * 1024;
};

// A BLOB file record to store with its blobs (an upload's, a remote file's).
struct NewBlobFile {
  int64_t tn_id = 0;
  std::string file_id, file_name, content_type, preset, descriptor, creator;
  db::Param parent, visibility;  // NULL: the root; NULL: direct (owner only)
  nlohmann::json x;              // null: none
  std::vector<std::string> tags;
  std::vector<Variant> variants;
  std::vector<std::pair<std::string, SpoolFile*>> files;  // blob id -> its spool file
  std::optional<uint64_t> quota;  // the tenant's plan quota; none: CLOUDILLO_BLOB_QUOTA_MB
};

class BlobService final : public cloudillo::v1::BlobEdge::CallbackService {
 public:
  BlobService(std::shared_ptr<db::Pool> pool, std::unique_ptr<BlobStore> store, BlobOptions options,
              rpc::WorkerPool& workers, BlobMetrics& metrics);

  // Identity publishes the profile picture and the cover (PUT /api/me/image, /cover),
  // and answers who follows or is connected to a tenant (relations()).
  void ConnectIdentity(std::shared_ptr<grpc::Channel> channel);
  // Reads of F and C files by the tenant's peers; also collab's (FileAccessService).
  RelationshipGate& relations() { return relations_; }

  grpc::ServerReadReactor<cloudillo::v1::ApiUploadPart>* Upload(grpc::CallbackServerContext*,
                                                                ApiReply*) override;
  grpc::ServerReadReactor<cloudillo::v1::ApiUploadPart>* PutProfileImage(grpc::CallbackServerContext*,
                                                                         ApiReply*) override;
  grpc::ServerReadReactor<cloudillo::v1::ApiUploadPart>* PutCoverImage(grpc::CallbackServerContext*,
                                                                       ApiReply*) override;
  grpc::ServerWriteReactor<cloudillo::v1::ApiDownloadPart>* GetFile(grpc::CallbackServerContext*,
                                                                    const ApiRequest*) override;
  grpc::ServerWriteReactor<cloudillo::v1::ApiDownloadPart>* GetVariant(grpc::CallbackServerContext*,
                                                                       const ApiRequest*) override;
  grpc::ServerUnaryReactor* HeadFile(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* HeadVariant(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetDescriptor(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;
  grpc::ServerUnaryReactor* GetMetadata(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ListFiles(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* CreateFile(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* PatchFile(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeleteFile(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* RestoreFile(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DuplicateFile(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;
  grpc::ServerUnaryReactor* PatchFileUser(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;
  grpc::ServerUnaryReactor* PutTag(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeleteTag(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ListTags(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* EmptyTrash(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ListShares(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* CreateShare(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* PatchShare(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeleteShare(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* ListAllShares(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;

  // Removes the stored bytes of a tenant's blobs that no file refers to any more.
  absl::Status CollectGarbage(int64_t tn_id);
  // BlobInternal.RaiseVisibility (raise_visibility.cc): how many files changed.
  absl::StatusOr<int> RaiseVisibility(int64_t tn_id, const std::vector<std::string>& file_ids,
                                      const std::string& visibility);

  // --- used by the stream reactors (upload.cc, download.cc) ---
  struct UploadResult {
    ApiReply reply;
  };
  // Checks an upload's head before any body byte is spooled. `picture` ("profile",
  // "cover" or "") fixes the preset and name of PUT /api/me/image and /cover.
  absl::Status CheckUploadHead(ApiRequest& head, const std::string& picture) const;
  // The tenant's storage quota (0: none): its plan's (from identity's ResolveTenant,
  // cached for kQuotaCacheTtl), else CLOUDILLO_BLOB_QUOTA_MB (storage_quota.cc).
  absl::StatusOr<uint64_t> QuotaOf(const cloudillo::v1::RequestContext& ctx);
  // The same for a tenant known by number only (a remote file fetched for it).
  absl::StatusOr<uint64_t> QuotaOfTenant(int64_t tn_id);
  // Bytes the tenant may still store (UINT64_MAX without a quota) under `quota`.
  absl::StatusOr<uint64_t> QuotaLeft(int64_t tn_id, uint64_t quota);
  // Bytes of the tenant's distinct blobs: what the quota counts.
  absl::StatusOr<uint64_t> StoredBytes(int64_t tn_id);
  // Tells identity that the uploaded `reply` is the tenant's new picture.
  absl::Status PublishPicture(const ApiRequest& head, const std::string& picture, const ApiReply& reply);
  // Stores a finished upload: variants, blobs, descriptor, the file record.
  absl::StatusOr<ApiReply> FinishUpload(const ApiRequest& head, std::unique_ptr<SpoolFile> spool,
                                        const std::string& digest);
  // Stores the blobs and the record of `f` in one transaction (quota, one writer per
  // tenant); the tenant's existing record instead when it has the file already.
  absl::StatusOr<std::optional<FileRow>> StoreBlobFile(const NewBlobFile& f, uint64_t* new_bytes);
  // What a download sends: the head (status, headers) and the byte window of a blob.
  struct DownloadPlan {
    ApiReply head;
    std::unique_ptr<BlobReader> reader;
    uint64_t first = 0, length = 0;
  };
  // `head_only`: for HEAD (counted as such, not as a download).
  absl::StatusOr<DownloadPlan> PlanDownload(const ApiRequest& req, bool by_variant, bool head_only);

  rpc::WorkerPool& workers() { return workers_; }
  BlobStore& store() { return *store_; }
  const BlobOptions& options() const { return options_; }
  BlobMetrics& metrics() { return metrics_; }

 private:
  absl::StatusOr<std::optional<FileRow>> LoadFile(int64_t tn_id, const std::string& file_id);
  // `cached`: the row may come from rows_ (downloads only, file_row_cache.h).
  absl::StatusOr<FileRow> ReadableFile(const ApiRequest& req, const std::string& file_id,
                                       bool cached = false);
  absl::StatusOr<FileRow> WritableFile(const ApiRequest& req, const std::string& file_id);
  nlohmann::ordered_json FileView(const cloudillo::v1::RequestContext& ctx, const FileRow& f,
                                  const nlohmann::json* user_data);

  absl::StatusOr<ApiReply> DoHead(const ApiRequest& req, bool by_variant);
  absl::StatusOr<ApiReply> DoGetDescriptor(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGetMetadata(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoListFiles(const ApiRequest& req);
  // The visibilities a caller other than the owner sees in listings, as SQL literals:
  // 'P', 'V' and those its relationship with the tenant opens (relationship_gate.h).
  // Identity unreachable: the first two only, logged; a listing then shows less, as the
  // reads of those files would fail.
  std::string ListedVisibilities(const cloudillo::v1::RequestContext& ctx);
  absl::StatusOr<ApiReply> DoCreateFile(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPatchFile(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDeleteFile(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoRestoreFile(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDuplicateFile(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPatchFileUser(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoTag(const ApiRequest& req, bool add);
  absl::StatusOr<ApiReply> DoListTags(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoEmptyTrash(const ApiRequest& req);
  // Share entries (shares.cc). The permission a share gives this caller on the file,
  // 0 when none (only for an authenticated, unscoped caller who is not the owner).
  absl::StatusOr<char> SharePermission(const cloudillo::v1::RequestContext& ctx, const std::string& file_id);
  absl::StatusOr<ApiReply> DoListShares(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoCreateShare(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoPatchShare(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoDeleteShare(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoListAllShares(const ApiRequest& req);

  std::shared_ptr<db::Pool> pool_;
  std::unique_ptr<BlobStore> store_;
  BlobOptions options_;
  rpc::WorkerPool& workers_;
  BlobMetrics& metrics_;
  std::unique_ptr<cloudillo::v1::Identity::Stub> identity_;
  struct CachedQuota {
    uint64_t bytes = 0;
    absl::Time until;
  };
  std::mutex quota_mu_;
  std::unordered_map<std::string, CachedQuota> quotas_;  // by id_tag; bounded (storage_quota.cc)
  FileRowCache rows_;
  RelationshipGate relations_{Clock::Real(), {}};
};

// For other services: identity's admin API asks for a tenant's storage; action opens
// the files its tenant attaches to an action (raise_visibility.cc).
class BlobInternalService final : public cloudillo::v1::BlobInternal::CallbackService {
 public:
  BlobInternalService(BlobService& blob, std::shared_ptr<db::Pool> pool, rpc::WorkerPool& workers)
      : blob_(blob), pool_(std::move(pool)), workers_(workers) {}
  grpc::ServerUnaryReactor* GetStorageUsage(grpc::CallbackServerContext*, const cloudillo::v1::TenantRef*,
                                            cloudillo::v1::StorageUsage*) override;
  grpc::ServerUnaryReactor* RaiseVisibility(grpc::CallbackServerContext*,
                                            const cloudillo::v1::RaiseVisibilityRequest*,
                                            cloudillo::v1::RaiseVisibilityReply*) override;

 private:
  BlobService& blob_;
  std::shared_ptr<db::Pool> pool_;
  rpc::WorkerPool& workers_;
};

}  // namespace cloudillo::blob
