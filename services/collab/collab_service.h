// collab: live Yjs documents over `/ws/crdt/{docId}` (PROTOCOL §5) and the real-time
// database over `/ws/rtdb/{fileId}` (§6); each gateway carries its sockets of a kind
// over one multiplexed stream (socket_mux.h, common.proto MuxFrame).
//
// One connection (crdt_socket.cc) reads one client message at a time and handles it
// on the worker pool (authorization, PostgreSQL, Yjs merges); the next message is asked
// for only when it is done, so a client that floods waits on its own socket. Outbound
// frames are bounded per socket; a client that falls behind is closed (1013) and
// resyncs on reconnect.
#pragma once

#include <prometheus/gauge.h>

#include <chrono>
#include <condition_variable>
#include <thread>
#include <unordered_map>

#include "access_check.h"
#include "cloudillo/v1/collab.grpc.pb.h"
#include "doc_hub.h"
#include "hub.h"
#include "store.h"

namespace cloudillo::collab {

struct SocketLimits {
  size_t max_message = 16u << 20;  // one client message (§5.2; the gateway enforces it too)
  size_t queue_messages = 1024;    // outbound frames waiting for one connection
  size_t queue_bytes = 64u << 20;
  size_t rtdb_max_message = 1u << 20;       // one /ws/rtdb text frame (rtdb::Limits::max_frame_bytes)
  std::chrono::seconds rtdb_heartbeat{30};  // keeps an RTDB connection's locks alive
};

// A connection the service can close at shutdown and tick for heartbeats.
class LiveSocket {
 public:
  virtual ~LiveSocket() = default;
  virtual void Close(int code, std::string reason) = 0;
  virtual void Tick() {}
};

class CollabService final : public cloudillo::v1::CollabEdge::CallbackService {
 public:
  CollabService(DocHub& hub, AccessCheck& access, rpc::WorkerPool& workers, SocketLimits limits,
                prometheus::Registry* registry);

  ~CollabService() override;

  grpc::ServerBidiReactor<cloudillo::v1::MuxFrame, cloudillo::v1::MuxFrame>* CrdtSockets(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerBidiReactor<cloudillo::v1::MuxFrame, cloudillo::v1::MuxFrame>* RtdbSockets(
      grpc::CallbackServerContext* ctx) override;

  // Serves /ws/rtdb (before serving starts); without it those sockets close with 4500.
  // Starts the heartbeat thread.
  void EnableRtdb(rtdb::RtdbStore& store, rtdb::RtdbHub& hub);

  // Shutdown: every socket is closed with `code`; no new one is admitted.
  void CloseAll(int code);

  // --- used by the connections ---
  DocHub& hub() { return hub_; }
  AccessCheck& access() { return access_; }
  rpc::WorkerPool& workers() { return workers_; }
  const SocketLimits& limits() const { return limits_; }
  rtdb::RtdbStore* rtdb_store() { return rtdb_store_; }
  rtdb::RtdbHub* rtdb_hub() { return rtdb_hub_; }
  class Socket;
  class RtdbSocket;
  bool Register(const std::shared_ptr<LiveSocket>& s);
  void Unregister(const LiveSocket* s);

 private:
  DocHub& hub_;
  AccessCheck& access_;
  rpc::WorkerPool& workers_;
  const SocketLimits limits_;
  prometheus::Gauge* connections_ = nullptr;
  rtdb::RtdbStore* rtdb_store_ = nullptr;
  rtdb::RtdbHub* rtdb_hub_ = nullptr;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool closed_ = false, stopping_ = false;
  std::unordered_map<const LiveSocket*, std::weak_ptr<LiveSocket>> sockets_;
  std::thread heartbeat_;
};

}  // namespace cloudillo::collab
