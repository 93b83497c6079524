// blob's own settings (beyond the shared store/process ones in libs/process).
//
//   CLOUDILLO_BLOB_ADDR            where blob's gRPC is reached (listens on its port)
//   CLOUDILLO_BLOB_DIR             the local store's folder (blobs and spool files)
//   CLOUDILLO_BLOB_MAX_UPLOAD_MB   largest upload (413 beyond)
//   CLOUDILLO_BLOB_QUOTA_MB        stored bytes per tenant (507 beyond); 0: none
//   CLOUDILLO_BLOB_STORE           local | s3
//   CLOUDILLO_BLOB_REMOTE_MAX_MB   largest remote file fetched (PROTOCOL §4.6)
//   CLOUDILLO_S3_ENDPOINT, _BUCKET, _REGION, _ACCESS_KEY, _SECRET_KEY (secret)
#pragma once

#include <string>

#include "blob_service.h"
#include "cloudillo/core/config.h"

namespace cloudillo::blob {

struct BlobConfig {
  std::string blob_addr;
  std::string grpc_listen;
  std::string dir;
  std::string identity_addr;
  std::string store;  // "local" | "s3"
  S3Options s3;
  BlobOptions options;
  uint64_t remote_max_bytes = 0;

  static BlobConfig Load(ConfigSource& src) {
    BlobConfig c;
    c.blob_addr = src.Str("CLOUDILLO_BLOB_ADDR", "127.0.0.1:9104", "blob gRPC address (host:port)");
    c.grpc_listen = src.Str("CLOUDILLO_GRPC_LISTEN", "",
                            "gRPC listen address (default: CLOUDILLO_BLOB_ADDR when it is an IP)");
    c.identity_addr =
        src.Str("CLOUDILLO_IDENTITY_ADDR", "127.0.0.1:9101", "identity gRPC address (host:port)");
    c.dir = src.Str("CLOUDILLO_BLOB_DIR", "blobs", "folder of the local blob store (created when missing)");
    c.options.max_upload_bytes = uint64_t(src.Int("CLOUDILLO_BLOB_MAX_UPLOAD_MB", 100, 1, 1 << 20,
                                                  "largest upload in MiB (413 beyond)"))
                                 << 20;
    c.store =
        src.Str("CLOUDILLO_BLOB_STORE", "local", "where blob bytes live: local (CLOUDILLO_BLOB_DIR) or s3");
    c.s3.endpoint = src.Str("CLOUDILLO_S3_ENDPOINT", "", "S3-compatible endpoint, http://host:port");
    c.s3.bucket = src.Str("CLOUDILLO_S3_BUCKET", "cloudillo-blobs", "bucket of the S3 store");
    c.s3.region = src.Str("CLOUDILLO_S3_REGION", "us-east-1", "region the S3 store signs for");
    c.s3.access_key = src.Str("CLOUDILLO_S3_ACCESS_KEY", "", "access key id of the S3 store");
    c.s3.secret_key = src.Secret("CLOUDILLO_S3_SECRET_KEY", "secret access key of the S3 store");
    c.options.quota_bytes = uint64_t(src.Int("CLOUDILLO_BLOB_QUOTA_MB", 0, 0, int64_t(1) << 40,
                                             "stored bytes per tenant in MiB (507 beyond); 0: no quota"))
                            << 20;
    c.remote_max_bytes = uint64_t(src.Int("CLOUDILLO_BLOB_REMOTE_MAX_MB", 64, 1, 1 << 14,
                                          "largest remote file (all its variants) fetched, in MiB"))
                         << 20;
    c.s3.spool_dir = c.dir + "/tmp";
    return c;
  }

  // The configured store (the local one under `dir`, or S3 with spool files there).
  absl::StatusOr<std::unique_ptr<BlobStore>> OpenStore() const {
    if (store == "local") return OpenLocalStore(dir);
    if (store == "s3") return OpenS3Store(s3);
    return absl::InvalidArgumentError("CLOUDILLO_BLOB_STORE must be local or s3");
  }
};

}  // namespace cloudillo::blob
