// The events one multiplexed socket stream (socket_mux.h) owes its gateway, in order,
// taken a batch per write. A message queued for several sockets in a row, as a
// document's broadcast queues it, becomes one event naming them all (MuxEvent.also)
// when the gateway takes that: the update crosses once per gateway instead of once per
// socket, and is serialized, encrypted and parsed once. Not thread-safe: the mux's
// lock guards it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cloudillo/v1/common.pb.h"

namespace cloudillo::collab {

class MuxQueue {
 public:
  // A socket and the bytes charged to it for one event.
  using Charge = std::pair<uint64_t, size_t>;

  explicit MuxQueue(bool fan_out) : fan_out_(fan_out) {}

  // `ev` for `socket`, charged `bytes`.
  void Push(uint64_t socket, cloudillo::v1::MuxEvent ev, size_t bytes);
  // A message for `socket`. When the event queued last carries this very `frame` (the
  // same pointer), the socket joins it: its earlier events all come before that one,
  // so its order holds.
  void PushData(uint64_t socket, std::shared_ptr<const std::string> frame, bool text);

  bool empty() const { return pending_.empty(); }
  // Queued and not yet written, each message once however many sockets it goes to.
  size_t bytes() const { return bytes_; }

  // Moves the next events, up to `max_bytes` (at least one), into `out`, and their
  // sockets' charges into `charged`. Returns their bytes, for Written().
  size_t Take(size_t max_bytes, cloudillo::v1::MuxFrame* out, std::vector<Charge>* charged);
  // The write carrying Take()'s `bytes` is done.
  void Written(size_t bytes) { bytes_ -= bytes; }
  void Clear();

 private:
  struct Pending {
    cloudillo::v1::MuxEvent ev;
    size_t bytes;        // its message's size, once
    size_t charges_end;  // its sockets are charges_[previous event's charges_end, charges_end)
  };
  const bool fan_out_;
  std::vector<Pending> pending_;
  std::vector<Charge> charges_;
  // The message of pending_.back() while more sockets can join it. Held, so that its
  // address cannot come back as another message's.
  std::shared_ptr<const std::string> last_frame_;
  bool last_text_ = false;
  size_t bytes_ = 0;
};

}  // namespace cloudillo::collab
