// WebSocket routes whose service takes all of a gateway's sockets over one stream
// (RouteKind::kMuxedSocket; common.proto MuxFrame): collab's /ws/crdt and /ws/rtdb.
// A socket then costs the service no gRPC call of its own, and what it sends to many
// sockets at once arrives here as one message.
//
// `streams` streams per route method and backend, each started by its first socket and
// replaced when it ends (every socket on it is closed, 1011, and reconnects). A socket
// goes to the stream its URL path hashes to, so a document's sockets share one and an
// update for them crosses once; several streams let the channel's round_robin spread a
// gateway's sockets over the service's replicas. Flow control per
// socket: a client message is read only after the service sent `ready` for it; what the
// service sends waits in a bounded queue per socket, so the stream is read at once
// whatever one client's pace, and a client that falls too far behind is closed (1013)
// and resyncs on reconnect.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "stream_bridge.h"

namespace cloudillo::gateway {

class SocketMux;

// How many streams are still running, so that the gateway outlives their last callback.
struct MuxCount {
  std::mutex mu;
  std::condition_variable cv;
  int live = 0;
};

class SocketMuxes {
 public:
  explicit SocketMuxes(int streams) : streams_(streams < 1 ? 1 : streams) {}
  ~SocketMuxes();  // cancels the live streams and waits (5 s at most) for them to end
  SocketMuxes(const SocketMuxes&) = delete;
  SocketMuxes& operator=(const SocketMuxes&) = delete;

  // Bridges one client's upgrade request over the live stream of its method.
  void Start(StreamTarget target, cloudillo::v1::ApiRequest request);

 private:
  struct Key {
    grpc::GenericStub* stub;
    std::string method;
    int slot;
    bool operator<(const Key& o) const {
      return std::tie(stub, method, slot) < std::tie(o.stub, o.method, o.slot);
    }
  };
  const int streams_;
  std::shared_ptr<MuxCount> count_ = std::make_shared<MuxCount>();
  std::mutex mu_;
  std::map<Key, std::shared_ptr<SocketMux>> live_;
};

}  // namespace cloudillo::gateway
