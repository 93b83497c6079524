// The service's end of a gateway's multiplexed socket stream (common.proto MuxFrame):
// one gRPC call per gateway carries all of its /ws/crdt (or /ws/rtdb) sockets, so a
// socket costs no call state of its own and what several sockets are sent in a moment
// leaves as one message. What /ws/crdt (crdt_socket.cc) and /ws/rtdb (rtdb_socket.cc)
// share.
//
// Each socket is a SocketHandler (the protocol) talking to its SocketLink (this
// stream). Outbound events wait in one queue per stream (mux_queue.h), batched into a
// frame per write. A socket with too much queued is closed with its protocol's "too
// slow" code and resyncs on reconnect, and a gateway that stops reading altogether
// loses the stream (its sockets reconnect). Inbound, a socket's next client message comes only
// after the handler asked for it (ReadNext), as with a stream per socket.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cloudillo/v1/collab.grpc.pb.h"
#include "mux_queue.h"

namespace cloudillo::collab {

struct SocketLimits;

// What a socket's protocol uses of its transport. Every call is thread-safe, never
// blocks, and is ignored once the socket has ended.
class SocketLink {
 public:
  virtual ~SocketLink() = default;
  // Upgrades the client's socket; the socket's first event (a close before it sends
  // this first, so the client sees the code).
  virtual void Accept() = 0;
  virtual void Queue(std::shared_ptr<const std::string> frame, bool text) = 0;
  // Sends the close after what was queued; the socket ends.
  virtual void CloseWith(int code, std::string reason) = 0;
  // The handler can take the client's next message.
  virtual void ReadNext() = 0;
};

// A socket's protocol. Called from gRPC's threads: returns at once (blocking work goes
// to the worker pool).
class SocketHandler {
 public:
  virtual ~SocketHandler() = default;
  // Called once, first; `link` stays valid as long as the handler holds it.
  virtual void Opened(std::shared_ptr<SocketLink> link, cloudillo::v1::ApiRequest open) = 0;
  virtual void OnMessage(std::string data, bool binary) = 0;
  // Called once, last: the socket ended (either side closed it, or the stream broke).
  virtual void OnDone() = 0;
};

class SocketMux final : public grpc::ServerBidiReactor<cloudillo::v1::MuxFrame, cloudillo::v1::MuxFrame>,
                        public std::enable_shared_from_this<SocketMux> {
 public:
  using HandlerFactory = std::function<std::shared_ptr<SocketHandler>()>;

  // Starts reading; the reactor keeps itself alive until gRPC is done with it. `ctx`
  // says whether the gateway takes a message for several sockets as one event.
  static SocketMux* Start(grpc::CallbackServerContext* ctx, const SocketLimits& limits, int too_slow_code,
                          HandlerFactory make);

  SocketMux(const SocketLimits& limits, int too_slow_code, bool fan_out, HandlerFactory make)
      : limits_(limits), too_slow_code_(too_slow_code), make_(std::move(make)), queue_(fan_out) {}

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  class Link;
  friend class Link;

  // mu_ held. Queue `ev` (or a message) for `link`, counted against its share; Pump()
  // writes.
  void Emit(Link& link, cloudillo::v1::MuxEvent ev);
  void EmitData(Link& link, std::shared_ptr<const std::string> frame, bool text);
  void Pump();
  // mu_ held: forgets the socket; its handler's OnDone is the caller's to call, unlocked.
  std::shared_ptr<SocketHandler> Forget(uint64_t id);
  // Ends the stream: every socket's handler is told, the call finishes (unless gRPC is
  // done with it already: `finish` false).
  void EndAll(grpc::Status status, bool finish = true);

  const SocketLimits& limits_;
  const int too_slow_code_;
  const HandlerFactory make_;
  std::shared_ptr<SocketMux> self_;

  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Link>> links_;
  MuxQueue queue_;
  std::vector<MuxQueue::Charge> in_flight_;  // the sockets of the write under way
  size_t in_flight_bytes_ = 0;
  cloudillo::v1::MuxFrame in_, out_;
  bool writing_ = false, finished_ = false;
};

}  // namespace cloudillo::collab
