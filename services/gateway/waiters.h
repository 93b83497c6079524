// Requests held until something they wait for happens elsewhere in the cluster (a
// service's WaitPolicy: the QR login's status poll). A waiter is a callback, not a
// thread: Notify(tag), on a "wake:<tag>" message from any replica, calls every callback
// waiting for that tag, once. Bounded: beyond `capacity` waiters Add refuses, and the
// caller answers at once instead of holding the request. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cloudillo::gateway {

class Waiters {
 public:
  explicit Waiters(size_t capacity) : capacity_(capacity) {}

  // 0 when full; else an id for Cancel.
  uint64_t Add(const std::string& tag, std::function<void()> wake);
  // The waiter's own timeout came first: forget it (its callback is not called).
  void Cancel(const std::string& tag, uint64_t id);
  void Notify(const std::string& tag);
  // After the wake-up channel was lost for a while (messages may be missing): every
  // waiter asks again.
  void NotifyAll();
  size_t size() const;

 private:
  struct Waiter {
    uint64_t id;
    std::function<void()> wake;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  size_t count_ = 0;
  std::unordered_map<std::string, std::vector<Waiter>> by_tag_;
};

}  // namespace cloudillo::gateway
