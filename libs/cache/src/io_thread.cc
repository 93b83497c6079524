#include "io_thread.h"

#include <pthread.h>

#include <exception>

#include "cloudillo/core/log.h"

namespace cloudillo::cache::internal {
namespace {
thread_local const boost::asio::io_context* current_io = nullptr;
}

IoThread::~IoThread() { Join(); }

void IoThread::Start(boost::asio::io_context& io, std::shared_ptr<void> owner, std::string name) {
  thread_ = std::thread([&io, owner = std::move(owner), name]() mutable {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    current_io = &io;
    bool logged = false;
    for (;;) {
      try {
        io.run();
        break;
      } catch (const std::exception& e) {
        if (!logged) LogError("redis_io_exception", {{"thread", name}, {"error", e.what()}});
        logged = true;
      } catch (...) {
        if (!logged) LogError("redis_io_exception", {{"thread", name}, {"error", "non-standard exception"}});
        logged = true;
      }
    }
    current_io = nullptr;
    owner.reset();  // may destroy the owner (and `io`) here, after run() has returned
  });
}

void IoThread::Join() {
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

bool IoThread::IsCurrent(const boost::asio::io_context& io) { return current_io == &io; }

}  // namespace cloudillo::cache::internal
