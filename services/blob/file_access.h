// blob's calls from other services (blob.proto `Blob`): today whether a caller may
// open a file as a live document (collab, PROTOCOL §5.1). The rules are those of the
// REST routes (file_rows.h CanRead/CanWrite, relationship_gate.h and share entries),
// in one answer.
#pragma once

#include <memory>
#include <string_view>

#include "cloudillo/db/pool.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/v1/blob.grpc.pb.h"
#include "relationship_gate.h"

namespace cloudillo::blob {

// `s~<appId>` (PROTOCOL §5.1): lowercase letters, digits, `-` and `_` starting with a
// letter or `_`, or `name@domain`; at most 64 characters after the prefix.
bool IsStoreId(std::string_view file_id);

class FileAccessService final : public cloudillo::v1::Blob::CallbackService {
 public:
  // `relations` (may be null: F and C files open to no one but the owner): the REST
  // routes' gate (BlobService::relations()), so a document reads as its file does.
  FileAccessService(std::shared_ptr<db::Pool> pool, rpc::WorkerPool& workers,
                    RelationshipGate* relations = nullptr)
      : pool_(std::move(pool)), workers_(workers), relations_(relations) {}

  grpc::ServerUnaryReactor* CheckFileAccess(grpc::CallbackServerContext* ctx,
                                            const cloudillo::v1::FileAccessRequest* req,
                                            cloudillo::v1::FileAccessReply* out) override;

  absl::StatusOr<cloudillo::v1::FileAccessReply> Check(const cloudillo::v1::FileAccessRequest& req);

 private:
  std::shared_ptr<db::Pool> pool_;
  rpc::WorkerPool& workers_;
  RelationshipGate* relations_;
};

}  // namespace cloudillo::blob
