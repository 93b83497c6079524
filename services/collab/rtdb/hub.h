// Live RTDB changes across replicas. After a transaction commits, the session
// publishes one message per changed document on Redis channel `rtdb:<tn_id>:<fileId>`;
// every collab process holds ONE pattern subscription (`rtdb:*`, cache::Subscriber)
// whose thread calls RtdbHub::Deliver, and the hub hands the message to the local
// sessions open on that tenant's file, each of which matches it against its own
// subscriptions. Presence (§6.5) travels the same way, and the hub keeps each room's
// roster (local and remote members) for the `sync` a joining connection gets.
//
// Messages (JSON): {"k":"c","tn","f","a":action,"p":path,"d"?:doc,"o"?:old doc,"c":connId}
// for changes, locks and unlocks; {"k":"p","tn","f","a":join|update|leave,"c":connId,
// "s"?:state} for presence. Only collab processes publish there; a message whose
// tenant or file differs from its channel's is dropped.
//
// Thread safety: every method may be called from any thread. Listeners are called
// outside the hub's lock and must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "json.h"
#include "rtdb_limits.h"

namespace cloudillo::collab::rtdb {

class RtdbListener {
 public:
  virtual ~RtdbListener() = default;
  virtual void OnMessage(const Json& message) = 0;
};

class RtdbHub {
 public:
  // Sends one message to every replica, this one included (Redis PUBLISH, or a direct
  // Deliver for a single process). Must not block.
  using PublishFn = std::function<void(const std::string& channel, std::string message)>;
  static constexpr const char* kPattern = "rtdb:*";

  RtdbHub(PublishFn publish, Limits limits) : publish_(std::move(publish)), limits_(limits) {}
  RtdbHub(const RtdbHub&) = delete;
  RtdbHub& operator=(const RtdbHub&) = delete;

  static std::string Channel(int64_t tn_id, const std::string& file_id);

  void Join(int64_t tn_id, const std::string& file_id, std::shared_ptr<RtdbListener> listener);
  void Leave(int64_t tn_id, const std::string& file_id, const RtdbListener* listener);

  // Adds "tn" and "f" to `message` and publishes it.
  void Publish(int64_t tn_id, const std::string& file_id, Json message);
  // A message from the pattern subscription. Returns how many local listeners got it.
  size_t Deliver(const std::string& channel, const std::string& message);

  // Enters `conn_id` into the room: the roster ([{connId, state}] of members with a
  // state), or nullopt when the room is full.
  std::optional<Json> PresenceJoin(int64_t tn_id, const std::string& file_id, const std::string& conn_id);
  void PresenceRemove(int64_t tn_id, const std::string& file_id, const std::string& conn_id);

  size_t listeners() const;

 private:
  using Key = std::pair<int64_t, std::string>;
  PublishFn publish_;
  const Limits limits_;
  mutable std::mutex mu_;
  std::map<Key, std::vector<std::shared_ptr<RtdbListener>>> listeners_;
  std::map<Key, std::map<std::string, Json>> rooms_;  // conn id -> state (null: none yet)
};

}  // namespace cloudillo::collab::rtdb
