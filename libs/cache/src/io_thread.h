// One thread running an io_context for a Redis client or subscriber.
//
// The thread keeps `owner` alive until the context runs out of work, so handlers may
// capture the owner's raw `this`. An exception escaping a handler is logged (once per
// thread) and the context is run again: it must never take the process down.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>

namespace cloudillo::cache::internal {

class IoThread {
 public:
  IoThread() = default;
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  ~IoThread();

  void Start(boost::asio::io_context& io, std::shared_ptr<void> owner, std::string name);
  // Waits for the thread to finish; from the thread itself (the last reference to the
  // owner dropped inside a callback) it detaches instead, and the thread ends on its own.
  void Join();
  // True on this context's thread.
  static bool IsCurrent(const boost::asio::io_context& io);

 private:
  std::thread thread_;
};

}  // namespace cloudillo::cache::internal
