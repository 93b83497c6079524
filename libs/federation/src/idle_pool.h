// Idle keep-alive connections, per destination ("scheme host port name"). Bounded per
// destination and in total so that many peers cannot pile up sockets (each idle
// connection holds a socket and its io_context's epoll and event descriptors), and
// expired after `idle_timeout` because peers close idle connections on their own.
// Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "connection.h"

namespace cloudillo::federation {

class IdlePool {
 public:
  IdlePool(size_t max_per_destination, size_t max_total, std::chrono::steady_clock::duration idle_timeout);

  // The most recently used live connection to `destination`, or null.
  std::unique_ptr<Connection> Take(const std::string& destination);
  void Put(const std::string& destination, std::unique_ptr<Connection> connection);
  size_t size();

 private:
  struct Idle {
    std::unique_ptr<Connection> connection;
    std::chrono::steady_clock::time_point since;
  };
  // Moves expired entries out (closed by the caller, outside the lock).
  void Prune(std::chrono::steady_clock::time_point now, std::vector<std::unique_ptr<Connection>>& out);

  const size_t max_per_destination_;
  const size_t max_total_;
  const std::chrono::steady_clock::duration idle_timeout_;
  std::mutex mu_;
  std::map<std::string, std::deque<Idle>> idle_;  // newest at the back
  size_t total_ = 0;
};

}  // namespace cloudillo::federation
