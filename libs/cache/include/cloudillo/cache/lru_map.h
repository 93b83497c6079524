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
#include <unordered_map>
#include <utility>

namespace cloudillo::cache {

template <class K, class V, class Hash = std::hash<K>>
class LruMap {
 public:
  explicit LruMap(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  // Slots point at each other and at their keys inside the map's nodes.
  LruMap(const LruMap&) = delete;
  LruMap& operator=(const LruMap&) = delete;

  V* Find(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    Slot& slot = it->second;
    if (clock_ - slot.stamp >= capacity_ / 4) MoveToFront(&slot);
    return &slot.value;
  }

  // Inserts or replaces; returns the stored value.
  V& Put(const K& key, V value) {
    auto [it, inserted] = index_.try_emplace(key);
    Slot& slot = it->second;
    slot.value = std::move(value);
    if (inserted) {
      slot.key = &it->first;
      Link(&slot);
    } else {
      MoveToFront(&slot);
    }
    if (index_.size() > capacity_) Remove(tail_);
    return slot.value;
  }

  bool Erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    Unlink(&it->second);
    index_.erase(it);
    return true;
  }

  template <class Pred>
  void EraseIf(Pred pred) {
    for (Slot* slot = head_; slot != nullptr;) {
      Slot* next = slot->next;
      if (pred(*slot->key, slot->value)) Remove(slot);
      slot = next;
    }
  }

  // The least recently used entry's value (nullptr when empty), and its removal: for
  // owners that bound something besides the count (bytes).
  V* Oldest() { return tail_ ? &tail_->value : nullptr; }
  void EraseOldest() {
    if (tail_) Remove(tail_);
  }

  void Clear() {
    index_.clear();
    head_ = tail_ = nullptr;
  }
  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  // The recency list runs through the map's own nodes (which never move), so a lookup
  // touches one node, not a map node and a list node.
  struct Slot {
    V value{};
    uint64_t stamp = 0;  // clock_ when last put in front
    Slot* prev = nullptr;
    Slot* next = nullptr;
    const K* key = nullptr;
  };

  void Link(Slot* slot) {
    slot->stamp = ++clock_;
    slot->prev = nullptr;
    slot->next = head_;
    if (head_) head_->prev = slot;
    head_ = slot;
    if (!tail_) tail_ = slot;
  }
  void Unlink(Slot* slot) {
    (slot->prev ? slot->prev->next : head_) = slot->next;
    (slot->next ? slot->next->prev : tail_) = slot->prev;
  }
  void MoveToFront(Slot* slot) {
    Unlink(slot);
    Link(slot);
  }
  void Remove(Slot* slot) {
    Unlink(slot);
    index_.erase(*slot->key);
  }

  size_t capacity_;
  uint64_t clock_ = 0;    // counts moves to the front
  Slot* head_ = nullptr;  // most recent
  Slot* tail_ = nullptr;  // least recent
  std::unordered_map<K, Slot, Hash> index_;
};

}  // namespace cloudillo::cache
