#include "idle_pool.h"

#include <vector>

namespace cloudillo::federation {

IdlePool::IdlePool(size_t max_per_destination, size_t max_total,
                   std::chrono::steady_clock::duration idle_timeout)
    : max_per_destination_(max_per_destination), max_total_(max_total), idle_timeout_(idle_timeout) {}

void IdlePool::Prune(std::chrono::steady_clock::time_point now,
                     std::vector<std::unique_ptr<Connection>>& out) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    while (!list.empty() && now - list.front().since >= idle_timeout_) {
      out.push_back(std::move(list.front().connection));
      list.pop_front();
      --total_;
    }
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
}

std::unique_ptr<Connection> IdlePool::Take(const std::string& destination) {
  std::vector<std::unique_ptr<Connection>> closing;
  auto now = std::chrono::steady_clock::now();
  while (true) {
    std::unique_ptr<Connection> candidate;
    {
      std::lock_guard lock(mu_);
      auto it = idle_.find(destination);
      if (it == idle_.end()) return nullptr;
      auto& list = it->second;
      Idle idle = std::move(list.back());
      list.pop_back();
      --total_;
      if (list.empty()) idle_.erase(it);
      if (now - idle.since >= idle_timeout_) {
        closing.push_back(std::move(idle.connection));
        continue;
      }
      candidate = std::move(idle.connection);
    }
    if (candidate->LooksAlive()) return candidate;
    closing.push_back(std::move(candidate));
  }
}

void IdlePool::Put(const std::string& destination, std::unique_ptr<Connection> connection) {
  std::vector<std::unique_ptr<Connection>> closing;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  Prune(now, closing);
  auto& list = idle_[destination];
  if (list.size() >= max_per_destination_) {
    closing.push_back(std::move(list.front().connection));
    list.pop_front();
    --total_;
  }
  if (total_ >= max_total_) {
    // Full of other destinations' connections: keeping theirs costs no more than ours.
    closing.push_back(std::move(connection));
    if (list.empty()) idle_.erase(destination);
    return;
  }
  list.push_back(Idle{std::move(connection), now});
  ++total_;
}

size_t IdlePool::size() {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace cloudillo::federation
