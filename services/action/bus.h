// The notification bus, `/ws/bus` (PROTOCOL §7): every new action of a tenant, pushed
// to the tenant's open sockets on whichever replica they are.
//
// Path of a push: Pipeline::PublishBus publishes `{"cmd","data"}` on Redis channel
// `bus:<tn_id>`; every action process holds ONE pattern subscription (`bus:*`,
// cache::Subscriber) whose thread calls BusHub::Deliver; the hub adds a fresh `id` once
// and hands the same bytes to each local connection of that tenant; each connection
// (BusSocket, a gRPC callback reactor) writes them to its gateway stream one at a time.
// No thread ever waits for a client: a connection whose queue is full is closed.
//
// Who may open it: the tenant's owner, with an unscoped session token or API key.
// The gateway routes /ws/bus with optional auth, so a missing, bad, foreign or scoped
// token arrives here as a guest and the socket is accepted, then closed with 4401 as
// the reference does (the web client then waits for a fresh token instead of retrying).
// An authenticated caller who is not the owner (a federated visitor) gets 4403: the bus
// carries the tenant's whole feed, private actions included.
//
// Close codes: 4401 unauthenticated, 4403 not the owner, 1009 a client message over
// BusLimits::max_client_message, 1013 (try again later: the client reconnects with
// backoff) when this process or the tenant is at its connection limit or the client
// reads too slowly, 1012 when the process shuts down. The gateway pings every socket
// every 30 s (http::ServerOptions::websocket_ping_interval) and drops a silent one.
//
// Thread safety: every BusHub method may be called from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cloudillo/v1/common.pb.h"

namespace prometheus {
class Gauge;
class Registry;
}  // namespace prometheus

namespace cloudillo::action {

inline constexpr int kBusCloseUnauthenticated = 4401;
inline constexpr int kBusCloseForbidden = 4403;
inline constexpr int kBusCloseTooBig = 1009;
inline constexpr int kBusCloseRestart = 1012;
inline constexpr int kBusCloseTryLater = 1013;

struct BusLimits {
  size_t max_connections = 20000;  // open sockets in this process
  size_t max_per_tenant = 64;      // open sockets of one tenant in this process
  // Frames waiting to be written to one connection, and their bytes. A client that
  // falls this far behind has lost the thread anyway: it is closed and reconnects.
  size_t queue_messages = 256;
  size_t queue_bytes = size_t(1) << 20;
  // Client commands are a few dozen bytes (`{"id","cmd":"ping"}`); the gateway enforces
  // the same number on the socket (route_table.cc), this guards a direct caller.
  size_t max_client_message = 64 << 10;
};

// The outbound frames of one connection, bounded in count and bytes. Not thread-safe.
class SendQueue {
 public:
  SendQueue(size_t max_messages, size_t max_bytes) : max_messages_(max_messages), max_bytes_(max_bytes) {}
  // False when the frame does not fit: the caller closes the connection.
  bool Push(std::shared_ptr<const std::string> frame);
  std::shared_ptr<const std::string> Pop();  // nullptr when empty
  void Clear();
  bool empty() const { return frames_.empty(); }
  size_t size() const { return frames_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  size_t max_messages_, max_bytes_;
  size_t bytes_ = 0;
  std::deque<std::shared_ptr<const std::string>> frames_;
};

// The answer to one client text frame (PROTOCOL §7): `ping` gets
// `{"id","cmd":"ack","data":{"status":"pong"}}`, any other command `status:"ok"`.
// Like the reference, a frame that is not `{"id": string, "cmd": string, ...}` gets no
// answer (nullopt) and the socket stays open.
std::optional<std::string> AnswerClientFrame(std::string_view text);

// The frame pushed for a message published on a bus channel: `{"id": <id>, "cmd",
// "data"}` in that order; nullopt when the message is not an object with a string
// `cmd` (never relayed: only our services publish there, but a bad one must not reach
// a client).
std::optional<std::string> PushFrame(std::string_view published, std::string_view id);

// The tenant of a bus channel, "bus:<tn_id>"; nullopt for any other name.
std::optional<int64_t> TenantOfBusChannel(std::string_view channel);
inline constexpr const char* kBusPattern = "bus:*";

// One open socket as the hub sees it.
class BusPeer {
 public:
  virtual ~BusPeer() = default;
  // Queues a frame; never blocks. May be called after the peer ended (then ignored).
  virtual void Push(std::shared_ptr<const std::string> frame) = 0;
  // Closes the socket with `code` after what is being written.
  virtual void Close(int code, std::string reason) = 0;
};

class BusHub {
 public:
  BusHub(BusLimits limits, prometheus::Registry* registry);
  BusHub(const BusHub&) = delete;
  BusHub& operator=(const BusHub&) = delete;

  // The reactor of one `ActionEdge/Bus` call (ActionService::Bus).
  grpc::ServerBidiReactor<cloudillo::v1::SocketFrame, cloudillo::v1::SocketFrame>* Open();

  // Admits a peer for a tenant: 0, or the close code that refuses it (kBusCloseTryLater).
  int Join(int64_t tn_id, std::shared_ptr<BusPeer> peer);
  void Leave(int64_t tn_id, const BusPeer* peer);
  // A message from the subscription (cache::Subscriber's thread). Returns how many
  // local connections got it.
  size_t Deliver(const std::string& channel, const std::string& message);
  // Shutdown: every socket is closed with `code` and no new one is admitted.
  void CloseAll(int code);

  size_t connections() const;
  const BusLimits& limits() const { return limits_; }

 private:
  const BusLimits limits_;
  prometheus::Gauge* gauge_ = nullptr;
  mutable std::mutex mu_;
  bool closed_ = false;
  size_t total_ = 0;
  // Shared: a delivery copies a tenant's peers and pushes outside the lock, so a peer
  // that leaves meanwhile lives until that push returned.
  std::unordered_map<int64_t, std::vector<std::shared_ptr<BusPeer>>> tenants_;
};

}  // namespace cloudillo::action
