// Redis access (hiredis): a small pool of blocking connections for commands, and a
// subscriber thread for pub/sub invalidation.
//
// Command() returns Unavailable when Redis cannot be reached (the connection is
// re-opened on the next call), Internal for a Redis error reply. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace cloudillo::cache {

struct Reply {
  enum class Type { kNil, kInteger, kString, kArray, kStatus };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<Reply> elements;
};

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Parses "host:port".
  static absl::StatusOr<RedisAddress> Parse(const std::string& text);
};

class Redis {
 public:
  static std::shared_ptr<Redis> Create(RedisAddress addr, int pool_size);
  virtual ~Redis() = default;
  virtual absl::StatusOr<Reply> Command(const std::vector<std::string>& args) = 0;
  virtual absl::Status Ping() = 0;
  absl::Status Publish(const std::string& channel, const std::string& message);
};

// Listens on channels in a background thread, reconnecting with backoff. After every
// (re)connect it calls `on_reset` first: messages sent while disconnected are lost, so
// whoever caches must drop everything then.
class Subscriber {
 public:
  using Handler = std::function<void(const std::string& channel, const std::string& message)>;
  Subscriber(RedisAddress addr, std::vector<std::string> channels, Handler on_message,
             std::function<void()> on_reset);
  ~Subscriber();
  void Start();
  void Stop();
  bool connected() const { return connected_; }

 private:
  void Run();
  RedisAddress addr_;
  std::vector<std::string> channels_;
  Handler on_message_;
  std::function<void()> on_reset_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::atomic<void*> live_ctx_{nullptr};
  std::thread thread_;
};

}  // namespace cloudillo::cache
