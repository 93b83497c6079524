// Another node's file fetched into this tenant (PROTOCOL §4.6): an attachment of an
// incoming action, a remote avatar. Callers are internal (blob_policy.cc).
//
// Nothing from the other node is trusted: the descriptor must hash to the file id,
// and every variant's bytes to its variant id and stated size, before anything is
// stored; a mismatch refuses the whole file and stores nothing. Requests go through
// libs/federation's outbound client (cl-o.<idTag> over HTTPS, SSRF guard, one deadline
// per request); the client bounds each body, `max_file_bytes` the whole file.
#pragma once

#include <memory>

#include "blob_service.h"
#include "cloudillo/federation/client.h"

namespace cloudillo::blob {

struct RemoteFileOptions {
  uint64_t max_file_bytes = 64ull << 20;  // the sum of the variants' sizes
  size_t max_variants = 16;
};

class RemoteFileService final : public cloudillo::v1::RemoteFiles::CallbackService {
 public:
  RemoteFileService(BlobService& blob, std::shared_ptr<db::Pool> pool,
                    std::shared_ptr<federation::Client> client, RemoteFileOptions options);

  grpc::ServerUnaryReactor* FetchRemoteFile(grpc::CallbackServerContext*,
                                            const cloudillo::v1::RemoteFileRequest*,
                                            cloudillo::v1::RemoteFileReply*) override;

  // The work of one call, on the calling (worker) thread.
  absl::StatusOr<cloudillo::v1::RemoteFileReply> Fetch(const cloudillo::v1::RemoteFileRequest& req);

 private:
  BlobService& blob_;
  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<federation::Client> client_;
  RemoteFileOptions options_;
};

}  // namespace cloudillo::blob
