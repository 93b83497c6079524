// One connection to a Redis server, plain TCP or TLS, pipelined: commands are appended
// to one output buffer, at most one write is in flight carrying everything queued, and
// replies are matched to callbacks in FIFO order. If the oldest command has no reply
// within the command timeout, the connection fails as a whole.
//
// Everything here runs on one io_context thread and is not thread-safe. Statuses:
// Unavailable for every failure of the link (connect, TLS, timeout, peer closed,
// malformed reply); a Redis error reply is Internal and keeps the connection.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cloudillo/cache/redis.h"
#include "resp.h"

namespace cloudillo::cache::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
using Clock = std::chrono::steady_clock;

Clock::duration ToChrono(absl::Duration d);

// Runs `done(result)`; an exception from it is logged (once per process) and dropped,
// so that one faulty callback cannot stop the reply loop of everyone else.
void Deliver(const Redis::Callback& done, absl::StatusOr<Reply> result);

struct TlsSettings {
  std::shared_ptr<asio::ssl::context> context;  // null: plain TCP
  std::string server_name;                      // verified and sent as SNI; empty: the host
};

// The client side TLS context of `config`: peer verification against the CA file (or
// the system's CAs), the client certificate when set. InvalidArgument naming a bad file.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const RedisConfig& config);

// What a client of `config` connects with: its TLS context (null without TLS), or the
// reason it cannot connect at all (a bad configuration), reported on every command.
struct ClientSetup {
  std::shared_ptr<asio::ssl::context> tls;
  absl::Status error;
};
ClientSetup PrepareClient(const RedisConfig& config);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using PushHandler = std::function<void(absl::StatusOr<Reply>)>;
  using CloseHandler = std::function<void(const absl::Status&)>;

  Connection(asio::io_context& io, tcp::socket socket, std::unique_ptr<TlsStream> tls, std::string peer,
             absl::Duration command_timeout);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading. Replies nobody waits for go to `on_push` (pub/sub); without one they
  // are a protocol error. `on_close` runs once when the link fails by itself (not after
  // Close()).
  void Start(PushHandler on_push, CloseHandler on_close);
  void SetHandlers(PushHandler on_push, CloseHandler on_close);

  // Queues a formatted command (AppendCommand) whose reply goes to `done`.
  void Send(std::string_view wire, Redis::Callback done);
  // Queues a formatted command whose replies go to the push handler (SUBSCRIBE, PING
  // on a subscribed connection).
  void Write(std::string_view wire);
  // Closes the link and fails every command waiting for a reply with `why`.
  void Close(const absl::Status& why);

  bool closed() const { return closed_; }
  const std::string& peer() const { return peer_; }
  Clock::time_point opened_at() const { return opened_at_; }

 private:
  struct Pending {
    Redis::Callback done;
    Clock::time_point deadline;
  };
  template <class F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(socket_);
    }
  }
  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : socket_; }
  void ReadMore();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void Flush();
  void ArmTimer();
  void OnTimer(const boost::system::error_code& ec);
  void Dispatch(absl::StatusOr<Reply> reply);
  void Fail(const absl::Status& why);

  tcp::socket socket_;  // the link when plain; unused (never opened) under TLS
  std::unique_ptr<TlsStream> tls_;
  std::string peer_;
  Clock::duration command_timeout_;
  Clock::time_point opened_at_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  RespReader reader_;
  std::array<char, 16384> rbuf_;
  std::string out_, writing_;
  bool write_in_flight_ = false;
  std::deque<Pending> fifo_;
  PushHandler on_push_;
  CloseHandler on_close_;
  bool started_ = false;
  bool closed_ = false;
};

// Resolves, connects (with `timeout` for the whole of it) and, with TLS, handshakes.
// `done` runs exactly once on the io thread, with a connection that is not started yet.
class Connector : public std::enable_shared_from_this<Connector> {
 public:
  using Done = std::function<void(absl::StatusOr<std::shared_ptr<Connection>>)>;
  static std::shared_ptr<Connector> Start(asio::io_context& io, const RedisAddress& addr,
                                          const TlsSettings& tls, absl::Duration timeout,
                                          absl::Duration command_timeout, Done done);
  // Aborts; `done` gets Cancelled unless it ran already.
  void Cancel();

  Connector(asio::io_context& io, const RedisAddress& addr, const TlsSettings& tls, absl::Duration timeout,
            absl::Duration command_timeout, Done done);

 private:
  void Run();
  void OnResolved(const boost::system::error_code& ec, const tcp::resolver::results_type& results);
  void OnConnected(const boost::system::error_code& ec);
  void OnHandshake(const boost::system::error_code& ec);
  void Finish(absl::StatusOr<std::shared_ptr<Connection>> result);
  void Abort();

  asio::io_context& io_;
  RedisAddress addr_;
  std::string peer_;
  TlsSettings tls_settings_;
  absl::Duration timeout_, command_timeout_;
  Done done_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  std::unique_ptr<TlsStream> tls_;
  asio::steady_timer timer_;
};

}  // namespace cloudillo::cache::internal
