#include "waiters.h"

#include <algorithm>

namespace cloudillo::gateway {

uint64_t Waiters::Add(const std::string& tag, std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  if (count_ >= capacity_) return 0;
  uint64_t id = next_id_++;
  by_tag_[tag].push_back(Waiter{id, std::move(wake)});
  ++count_;
  return id;
}

void Waiters::Cancel(const std::string& tag, uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_tag_.find(tag);
  if (it == by_tag_.end()) return;
  auto& list = it->second;
  auto w = std::find_if(list.begin(), list.end(), [id](const Waiter& x) { return x.id == id; });
  if (w == list.end()) return;
  list.erase(w);
  --count_;
  if (list.empty()) by_tag_.erase(it);
}

void Waiters::Notify(const std::string& tag) {
  std::vector<Waiter> woken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_tag_.find(tag);
    if (it == by_tag_.end()) return;
    woken = std::move(it->second);
    by_tag_.erase(it);
    count_ -= woken.size();
  }
  for (auto& w : woken) w.wake();  // outside the lock: a callback may Add again
}

void Waiters::NotifyAll() {
  std::unordered_map<std::string, std::vector<Waiter>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(by_tag_);
    count_ = 0;
  }
  for (auto& [tag, list] : all)
    for (auto& w : list) w.wake();
}

size_t Waiters::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

}  // namespace cloudillo::gateway
