// The service's end of one WebSocket the gateway bridges as a bidirectional SocketFrame
// stream (common.proto): what /ws/crdt (crdt_socket.cc) and /ws/rtdb (rtdb_socket.cc)
// share. Frames for the client wait in a bounded queue; a client that falls that far
// behind is closed with the code its protocol gives, and resyncs on reconnect. The
// gateway sees `accepted` before anything else, and a close only after the frames
// queued before it.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "cloudillo/v1/collab.grpc.pb.h"

namespace cloudillo::collab {

struct SocketLimits;

class SocketReactor : public grpc::ServerBidiReactor<cloudillo::v1::SocketFrame, cloudillo::v1::SocketFrame> {
 public:
  SocketReactor(const SocketLimits& limits, int too_slow_code)
      : limits_(limits), too_slow_code_(too_slow_code) {}

  // Never blocks; ignored once the socket is closing.
  void Queue(std::shared_ptr<const std::string> frame, bool text);
  void CloseWith(int code, std::string reason);

  void OnReadDone(bool ok) final;
  void OnWriteDone(bool ok) override;
  void OnCancel() override { End(); }

 protected:
  // The first frame, `open` (in in_), was read: authorize and answer with Accept().
  virtual void Opened() = 0;
  // A client frame (binary or text, in in_) was read.
  virtual void OnFrame() = 0;
  // The client sees a close code only on an open socket: accepted goes first.
  void Accept();
  // Reads and writes start under mu_ and never after Finish (End).
  void ReadNext();
  void End(grpc::Status status = grpc::Status::OK);

  cloudillo::v1::SocketFrame in_;  // the frame being read

 private:
  bool opened_ = false;
  struct Outgoing {
    std::shared_ptr<const std::string> data;
    bool text = false;
  };
  // mu_ held.
  void ClearQueue();
  void QueueClose(int code, std::string reason);
  void Pump();

  const SocketLimits& limits_;
  const int too_slow_code_;
  std::mutex mu_;
  std::deque<cloudillo::v1::SocketFrame> control_;
  std::deque<Outgoing> queue_;
  size_t queued_bytes_ = 0;
  cloudillo::v1::SocketFrame out_;
  bool writing_ = false, closing_ = false, finished_ = false, accepted_sent_ = false;
};

}  // namespace cloudillo::collab
