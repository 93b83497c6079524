// A map with a fixed capacity that forgets the least recently used entry first.
// Every in-process cache keyed by something a client chooses (hosts, keys, IPs) is
// one of these, so a flood of distinct keys evicts old entries instead of growing
// memory or flushing the whole cache.
//
// Not thread-safe: the owner locks. Find() refreshes an entry's recency, except that
// an entry already among the most recent quarter stays where it is: moving it would
// write to two neighbours' nodes, cold cache lines when thousands of tenants take
// turns, for no change in what is evicted. So any entry found since the last
// three quarters of `capacity` insertions and refreshes is never evicted (small maps,
// under 4 entries, keep the exact order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>
#include <utility>

namespace cloudillo::cache {

template <class K, class V, class Hash = std::hash<K>>
class LruMap {
 public:
  explicit LruMap(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  V* Find(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    Node& node = *it->second;
    if (clock_ - node.stamp >= capacity_ / 4) Refresh(it->second);
    return &node.value;
  }

  // Inserts or replaces; returns the stored value.
  V& Put(const K& key, V value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->value = std::move(value);
      Refresh(it->second);
      return it->second->value;
    }
    order_.push_front(Node{key, std::move(value), ++clock_});
    index_.emplace(key, order_.begin());
    if (index_.size() > capacity_) {
      index_.erase(order_.back().key);
      order_.pop_back();
    }
    return order_.front().value;
  }

  bool Erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }

  template <class Pred>
  void EraseIf(Pred pred) {
    for (auto it = order_.begin(); it != order_.end();) {
      if (pred(it->key, it->value)) {
        index_.erase(it->key);
        it = order_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Clear() {
    index_.clear();
    order_.clear();
  }
  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Node {
    K key;
    V value;
    uint64_t stamp;  // clock_ when last put in front
  };
  using Order = std::list<Node>;
  void Refresh(typename Order::iterator node) {
    node->stamp = ++clock_;
    order_.splice(order_.begin(), order_, node);
  }

  size_t capacity_;
  uint64_t clock_ = 0;  // counts moves to the front
  Order order_;         // most recent first
  std::unordered_map<K, typename Order::iterator, Hash> index_;
};

}  // namespace cloudillo::cache
