// Produces a ready connection for a RedisConfig: TCP connect, TLS handshake, AUTH,
// SELECT, all within connect_timeout for each server tried. With sentinels, asks each
// sentinel in turn for the master's address (SENTINEL get-master-addr-by-name, after
// AUTH to the sentinel when configured), connects there and confirms with ROLE that it
// is a master; this is how a failover is followed, since every reconnect dials afresh.
//
// Runs on one io_context thread. Every failure is Unavailable with a message naming
// the server and the step (a refused AUTH reads "redis: H:P refused AUTH: WRONGPASS
// ..."); passwords never appear in messages.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cloudillo/cache/redis.h"
#include "connection.h"

namespace cloudillo::cache::internal {

class Dial : public std::enable_shared_from_this<Dial> {
 public:
  using Done = std::function<void(absl::StatusOr<std::shared_ptr<Connection>>)>;

  // `tls` is null for plain TCP. `done` runs exactly once, never inline; its connection
  // is started without handlers (install them with SetHandlers).
  static std::shared_ptr<Dial> Start(asio::io_context& io, const RedisConfig& config,
                                     std::shared_ptr<asio::ssl::context> tls, Done done);
  // Aborts the attempt; `done` does not run after this.
  void Cancel();

  Dial(asio::io_context& io, const RedisConfig& config, std::shared_ptr<asio::ssl::context> tls, Done done);

 private:
  struct Login {
    std::string username, password;
    int db = 0;
    bool check_master = false;
  };
  using Then = std::function<void(absl::StatusOr<std::shared_ptr<Connection>>)>;

  void Run();
  void AskSentinel(size_t i);
  // Connects to `addr` and runs the login commands pipelined; `then` gets the connection
  // once every reply was right.
  void Open(const RedisAddress& addr, const Login& login, Then then);
  void Finish(absl::StatusOr<std::shared_ptr<Connection>> result);

  asio::io_context& io_;
  const RedisConfig& config_;  // owned by whoever started the dial, which outlives it
  std::shared_ptr<asio::ssl::context> tls_;
  Done done_;
  std::shared_ptr<Connector> connector_;
  std::shared_ptr<Connection> conn_;  // the one being logged into
  asio::steady_timer deadline_;       // of the current Open
  uint64_t open_gen_ = 0;             // tells a stale deadline from the current one
  std::string errors_;                // of earlier sentinels
};

}  // namespace cloudillo::cache::internal
