// One `/ws/rtdb/<fileId>` connection (PROTOCOL §6): parses client frames, runs them
// against the store and answers, and turns the hub's live messages into `change` and
// `presenceChange` pushes for this connection's subscriptions.
//
// Threads: HandleText, Start, Heartbeat and Close do PostgreSQL round trips: call them
// from a worker, one at a time per session (frames of a connection are handled in
// order). OnMessage runs on the hub's delivery thread and never blocks; the aggregate
// recomputes it triggers go through SessionDeps::post. Every frame of this session goes
// out through SessionDeps::send, under the session's lock, so answers and pushes are
// in a consistent order; `send` must not block nor call back into the session.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub.h"
#include "json.h"
#include "query_spec.h"
#include "store.h"

namespace cloudillo::collab::rtdb {

enum class Access { kRead, kComment, kWrite, kAdmin };

struct SessionConfig {
  int64_t tn_id = 0;
  std::string file_id;                // as in the URL; `<id>~meta` for a side database
  std::optional<std::string> id_tag;  // nullopt: anonymous (share link or guest)
  std::string conn_id;                // unique per connection, e.g. RandomAlnum(24)
  Access access = Access::kRead;      // Comment on a non-~meta database acts as Read
  bool presence = false;              // `?presence=1`
};

struct SessionDeps {
  RtdbStore* store = nullptr;
  RtdbHub* hub = nullptr;
  // Queues one text frame for the client. The queue is bounded: when full, the
  // transport closes the socket (1013) instead of growing.
  std::function<void(std::string frame)> send;
  // Asks the transport to close the socket (1009 frame too big, 1013 too slow).
  std::function<void(int code, std::string reason)> close;
  // Runs blocking work (aggregate recomputes) on a worker thread.
  std::function<void(std::function<void()>)> post;
};

inline constexpr int kCloseTooBig = 1009;
inline constexpr int kCloseTryLater = 1013;

class RtdbSession final : public RtdbListener, public std::enable_shared_from_this<RtdbSession> {
 public:
  static std::shared_ptr<RtdbSession> Create(SessionConfig config, SessionDeps deps);
  ~RtdbSession() override = default;

  // Joins the hub and, with presence, the room (sends the `sync`).
  void Start();
  // One client text frame.
  void HandleText(std::string_view frame);
  // Keeps this connection's locks alive; call every ~30 s (well within lock_ttl_seconds).
  void Heartbeat();
  // The connection ended: leaves the hub and the room, releases its locks. Idempotent.
  void Close();

  void OnMessage(const Json& message) override;

  const std::string& conn_id() const { return config_.conn_id; }
  // The lock owner: the id tag, or `anon:<connId>`.
  const std::string& lock_holder() const { return lock_holder_; }
  Access access() const { return config_.access; }

  RtdbSession(SessionConfig config, SessionDeps deps);  // use Create

 private:
  struct Subscription {
    std::string id, path;
    Scope scope = Scope::kSubtree;
    std::optional<Filter> filter;
    std::vector<std::string> select;
    std::optional<AggregateSpec> aggregate;
    bool ready = false;
    std::vector<Json> pending;  // events that arrived before `ready` went out
    bool recompute_running = false, dirty = false;
    std::vector<Json> groups;  // aggregate: what the client holds
  };

  void Answer(const Json& id, const std::string& type, Json fields = Json::object());
  void Error(const Json& id, int code, const std::string& message);
  void SendLocked(const Json& frame);  // mu_ held
  bool MayWrite(std::string_view path) const;

  void DoQuery(const Json& id, const Json& frame);
  void DoGet(const Json& id, const Json& frame);
  void DoSubscribe(const Json& id, const Json& frame);
  void DoUnsubscribe(const Json& id, const Json& frame);
  void DoTransaction(const Json& id, const Json& frame);
  void DoLock(const Json& id, const Json& frame, bool lock);
  void DoCreateIndex(const Json& id, const Json& frame);
  void DoPresence(const Json& id, const Json& frame);

  // The event a subscription shows for a change message, or nullopt.
  std::optional<Json> EventFor(const Subscription& sub, const Json& msg) const;
  void DeliverLocked(Subscription& sub, Json event);                 // mu_ held
  void ScheduleRecompute(const std::shared_ptr<Subscription>& sub);  // mu_ held
  void Recompute(const std::shared_ptr<Subscription>& sub);

  SessionConfig config_;
  SessionDeps deps_;
  const Limits& limits_;
  std::string lock_holder_;
  bool presence_enabled_ = false;  // asked for and admitted to the room
  bool presence_published_ = false;
  double presence_tokens_;
  std::chrono::steady_clock::time_point presence_last_;

  std::mutex mu_;
  bool closed_ = false;
  std::map<std::string, std::shared_ptr<Subscription>> subs_;
};

// Whether `path` (of a change) falls under a subscription on `sub_path` in `scope`.
bool InScope(std::string_view sub_path, Scope scope, std::string_view path);

}  // namespace cloudillo::collab::rtdb
