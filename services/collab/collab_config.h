// collab's own settings (beyond the shared store/process ones in libs/process).
//
//   CLOUDILLO_COLLAB_ADDR             where collab's gRPC is reached (listens on its port)
//   CLOUDILLO_BLOB_ADDR               where blob is reached (who may open a document)
//   CLOUDILLO_CRDT_MAX_UPDATE_KB      largest client update (1009 beyond; default 16 MiB)
//   CLOUDILLO_CRDT_MAX_DOC_MB         largest document state (writes beyond: 1009)
//   CLOUDILLO_CRDT_EVICT_MS           how long a document without connections stays in memory
//   CLOUDILLO_CRDT_COMPACT_EVERY      accepted updates between compactions of an open document
#pragma once

#include <string>

#include "cloudillo/core/config.h"
#include "collab_service.h"
#include "doc_hub.h"

namespace cloudillo::collab {

struct CollabConfig {
  std::string collab_addr;
  std::string grpc_listen;
  std::string blob_addr;
  HubLimits hub;
  SocketLimits socket;

  static CollabConfig Load(ConfigSource& src) {
    CollabConfig c;
    c.collab_addr = src.Str("CLOUDILLO_COLLAB_ADDR", "127.0.0.1:9105", "collab gRPC address (host:port)");
    c.grpc_listen = src.Str("CLOUDILLO_GRPC_LISTEN", "",
                            "gRPC listen address (default: CLOUDILLO_COLLAB_ADDR when it is an IP)");
    c.blob_addr = src.Str("CLOUDILLO_BLOB_ADDR", "127.0.0.1:9104", "blob gRPC address (host:port)");
    c.hub.max_update_bytes = size_t(src.Int("CLOUDILLO_CRDT_MAX_UPDATE_KB", 16 << 10, 1, 16 << 10,
                                            "largest client update in KiB (closed with 1009 beyond)"))
                             << 10;
    c.hub.max_doc_bytes = size_t(src.Int("CLOUDILLO_CRDT_MAX_DOC_MB", 64, 1, 4096,
                                         "largest document state in MiB (writes beyond: 1009)"))
                          << 20;
    c.hub.evict_after =
        absl::Milliseconds(src.Int("CLOUDILLO_CRDT_EVICT_MS", 2000, 0, 3600000,
                                   "how long a document without connections stays in memory"));
    c.hub.compact_every = size_t(src.Int("CLOUDILLO_CRDT_COMPACT_EVERY", 500, 2, 1000000,
                                         "accepted updates between compactions of an open document"));
    c.socket.max_message = c.hub.max_update_bytes + 64;
    return c;
  }
};

}  // namespace cloudillo::collab
