// collab: live Yjs documents over `/ws/crdt/{docId}` (PROTOCOL §5), bridged by the
// gateway as a bidirectional SocketFrame stream (common.proto).
//
// One connection (crdt_socket.cc) reads one client message at a time and handles it
// on the worker pool (authorization, PostgreSQL, Yjs merges); the next read starts only
// when it is done, so a client that floods waits on its own socket. Outbound frames go
// through a bounded queue; a client that falls behind is closed (1013) and resyncs on
// reconnect.
#pragma once

#include <prometheus/gauge.h>

#include <unordered_map>

#include "access_check.h"
#include "cloudillo/v1/collab.grpc.pb.h"
#include "doc_hub.h"

namespace cloudillo::collab {

struct SocketLimits {
  size_t max_message = 16u << 20;  // one client message (§5.2; the gateway enforces it too)
  size_t queue_messages = 1024;    // outbound frames waiting for one connection
  size_t queue_bytes = 64u << 20;
};

class CollabService final : public cloudillo::v1::CollabEdge::CallbackService {
 public:
  CollabService(DocHub& hub, AccessCheck& access, rpc::WorkerPool& workers, SocketLimits limits,
                prometheus::Registry* registry);

  grpc::ServerBidiReactor<cloudillo::v1::SocketFrame, cloudillo::v1::SocketFrame>* Crdt(
      grpc::CallbackServerContext* ctx) override;

  // Shutdown: every socket is closed with `code`; no new one is admitted.
  void CloseAll(int code);

  // --- used by the connections ---
  DocHub& hub() { return hub_; }
  AccessCheck& access() { return access_; }
  rpc::WorkerPool& workers() { return workers_; }
  const SocketLimits& limits() const { return limits_; }
  class Socket;
  bool Register(const std::shared_ptr<Socket>& s);
  void Unregister(const Socket* s);

 private:
  DocHub& hub_;
  AccessCheck& access_;
  rpc::WorkerPool& workers_;
  const SocketLimits limits_;
  prometheus::Gauge* connections_ = nullptr;
  std::mutex mu_;
  bool closed_ = false;
  std::unordered_map<const Socket*, std::weak_ptr<Socket>> sockets_;
};

}  // namespace cloudillo::collab
