// Redis access on Boost.Asio (DESIGN "Redis on the event loop"): one I/O thread and one
// pipelined connection per client, plain TCP or TLS, optionally behind Sentinel. hiredis
// is used only to format commands and to parse replies.
//
// Status codes, everywhere in this header:
//   Unavailable  not connected (connecting too long, in backoff after a failure, AUTH
//                refused, ...), too many commands pending, no reply within
//                command_timeout, a reply over 512 MiB or malformed (the connection is
//                reset), client stopped. The message says which.
//   Internal     Redis answered with an error reply ("redis: ERR ..."); the connection is
//                kept. A reply that contains an error anywhere (e.g. inside EXEC's array)
//                counts as an error reply.
//
// Thread safety: Redis and Subscriber may be used from any thread. Callbacks run on the
// client's (or subscriber's) own I/O thread; they must not block, and must not call the
// blocking wrappers (which refuse with FailedPrecondition there rather than deadlock).
// Secrets (passwords) are never logged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/core/config.h"

namespace cloudillo::cache {

struct Reply {
  enum class Type { kNil, kInteger, kString, kArray, kStatus };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<Reply> elements;
};

// "host:port" or "[v6]:port".
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  static absl::StatusOr<RedisAddress> Parse(const std::string& text);
  std::string ToString() const;
};

struct RedisConfig {
  std::string addr = "127.0.0.1:6379";  // host:port (ignored when sentinels are set)
  std::string username, password;       // AUTH (username optional: ACL user)
  int db = 0;                           // SELECT when non-zero
  bool tls = false;
  // Server name for SNI and certificate verification defaults to the host connected to.
  // Without a CA file the system's default CA paths verify the server.
  std::string tls_ca_file, tls_cert_file, tls_key_file, tls_server_name;
  std::vector<std::string> sentinels;  // host:port list; when set, the master comes from them
  std::string master_name;             // required with sentinels
  std::string sentinel_username, sentinel_password;
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(2);
  size_t max_pending = 10000;  // commands queued or in flight; beyond: Unavailable at once

  // CLOUDILLO_REDIS_ADDR, _USERNAME, _PASSWORD (secret), _DB, _TLS, _TLS_CA, _TLS_CERT,
  // _TLS_KEY, _TLS_SERVER_NAME, _SENTINELS, _MASTER_NAME, _SENTINEL_USERNAME,
  // _SENTINEL_PASSWORD (secret). InvalidArgument naming every bad combination. Type errors
  // of single variables are reported by src.Finish() like every other setting.
  static absl::StatusOr<RedisConfig> Load(ConfigSource& src);
  // The checks of Load() for a config built in code.
  absl::Status Validate() const;
};

class Redis {
 public:
  using Callback = std::function<void(absl::StatusOr<Reply>)>;

  // Connects lazily on the first command; after a lost connection reconnects by itself
  // (through the sentinels when set), with backoff from 100 ms doubling to 5 s.
  static std::shared_ptr<Redis> Create(RedisConfig config);
  virtual ~Redis() = default;

  // Never blocks and never calls `done` inline: `done` runs later on the client's thread.
  // Accepted commands complete in command order. While a connection attempt is under way
  // commands wait (up to connect_timeout); in backoff after a failure they fail at once.
  // A command refused because max_pending are outstanding completes at once, possibly
  // before earlier commands.
  virtual void CommandAsync(std::vector<std::string> args, Callback done) = 0;
  // EVALSHA, or EVAL the first time a script is used on a connection; a NOSCRIPT answer
  // (SCRIPT FLUSH, failover) is retried once with EVAL, which puts that command after
  // commands issued in between.
  virtual void ScriptAsync(const std::string& script, std::vector<std::string> keys,
                           std::vector<std::string> args, Callback done) = 0;

  // Blocking wrappers for worker threads, never for an event loop. They wait at most
  // connect_timeout + 2 * command_timeout (the longest a command can take), then give
  // Unavailable.
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);
  absl::Status Ping();
  absl::Status Publish(const std::string& channel, const std::string& message);
  // (channel, message) pairs published in this order, written together so they cost one
  // round trip instead of one each. The first error, or OK once Redis took them all.
  absl::Status PublishMany(const std::vector<std::pair<std::string, std::string>>& messages);

  virtual bool connected() const = 0;

 protected:
  virtual bool OnClientThread() const = 0;
  virtual absl::Duration LongestWait() const = 0;
};

// Pub/sub on its own connection and thread. After every (re)connect, once SUBSCRIBE is
// confirmed, it calls on_reset() first (messages may have been missed: callers flush
// caches), then delivers messages. It PINGs every `keepalive`; no answer within
// `keepalive_timeout` closes the connection and reconnects (backoff 100 ms doubling to
// 5 s). Callbacks run on the subscriber's thread, one at a time.
//
// Options::patterns are PSUBSCRIBEd on the same connection (Redis glob patterns such
// as "bus:*"): one connection serves every channel of a family whose members come and
// go (a tenant's bus), and the handler gets the channel that matched, not the pattern.
// A message matching both a channel and a pattern is delivered once for each.
class Subscriber {
 public:
  using Handler = std::function<void(const std::string& channel, const std::string& message)>;
  struct Options {
    absl::Duration keepalive = absl::Seconds(10);
    absl::Duration keepalive_timeout = absl::Seconds(5);
    std::vector<std::string> patterns;
  };

  Subscriber(RedisConfig config, std::vector<std::string> channels, Handler on_message,
             std::function<void()> on_reset, Options options);
  Subscriber(RedisConfig config, std::vector<std::string> channels, Handler on_message,
             std::function<void()> on_reset)
      : Subscriber(std::move(config), std::move(channels), std::move(on_message), std::move(on_reset),
                   Options()) {}
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void Start();  // once; does nothing without channels or patterns
  void Stop();   // idempotent, final; no callback runs after it returns (unless called from one)
  bool connected() const;

 private:
  class Core;
  std::shared_ptr<Core> core_;
  bool started_ = false;
};

}  // namespace cloudillo::cache
