// blob's own settings (beyond the shared store/process ones in libs/process).
//
//   CLOUDILLO_BLOB_ADDR            where blob's gRPC is reached (listens on its port)
//   CLOUDILLO_BLOB_DIR             the local store's folder (blobs and spool files)
//   CLOUDILLO_BLOB_MAX_UPLOAD_MB   largest upload (413 beyond)
//   CLOUDILLO_BLOB_QUOTA_MB        stored bytes per tenant (507 beyond); 0: none
#pragma once

#include <string>

#include "blob_service.h"
#include "cloudillo/core/config.h"

namespace cloudillo::blob {

struct BlobConfig {
  std::string blob_addr;
  std::string grpc_listen;
  std::string dir;
  BlobOptions options;

  static BlobConfig Load(ConfigSource& src) {
    BlobConfig c;
    c.blob_addr = src.Str("CLOUDILLO_BLOB_ADDR", "127.0.0.1:9103", "blob gRPC address (host:port)");
    c.grpc_listen = src.Str("CLOUDILLO_GRPC_LISTEN", "",
                            "gRPC listen address (default: CLOUDILLO_BLOB_ADDR when it is an IP)");
    c.dir = src.Str("CLOUDILLO_BLOB_DIR", "blobs", "folder of the local blob store (created when missing)");
    c.options.max_upload_bytes = uint64_t(src.Int("CLOUDILLO_BLOB_MAX_UPLOAD_MB", 100, 1, 1 << 20,
                                                  "largest upload in MiB (413 beyond)"))
                                 << 20;
    c.options.quota_bytes = uint64_t(src.Int("CLOUDILLO_BLOB_QUOTA_MB", 0, 0, int64_t(1) << 40,
                                             "stored bytes per tenant in MiB (507 beyond); 0: no quota"))
                            << 20;
    return c;
  }
};

}  // namespace cloudillo::blob
