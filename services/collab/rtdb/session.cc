#include "session.h"

#include <algorithm>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/random.h"
#include "path.h"
#include "write_ops.h"

namespace cloudillo::collab::rtdb {
namespace {

constexpr double kPresenceBurst = 20;
constexpr double kPresencePerSecond = 5;

std::string RandomId() { return RandomAlnum(24); }

const Json* Member(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::optional<std::string> StringMember(const Json& obj, const char* key) {
  const Json* v = Member(obj, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

Scope ParseScope(const Json& frame) {
  auto s = StringMember(frame, "scope");
  if (s == "document") return Scope::kDocument;
  if (s == "children") return Scope::kChildren;
  return Scope::kSubtree;  // absent or unknown: what subscriptions did before scopes
}

Json Change(const std::string& sub_id, Json event) {
  return Json{
      {"id", RandomId()}, {"type", "change"}, {"subscriptionId", sub_id}, {"event", std::move(event)}};
}

// A status from the transaction, as the error frame of §6.3.
std::pair<int, std::string> ErrorOf(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
      return {400, std::string(st.message())};
    case absl::StatusCode::kPermissionDenied:
      return {403, std::string(st.message())};
    case absl::StatusCode::kFailedPrecondition:
      return {423, std::string(st.message())};
    default:
      return {500, "Transaction failed"};
  }
}

}  // namespace

bool InScope(std::string_view sub_path, Scope scope, std::string_view path) {
  switch (scope) {
    case Scope::kDocument:
      return path == sub_path;
    case Scope::kChildren:
      return ParentPath(path) == sub_path;
    case Scope::kSubtree:
      return path == sub_path || (path.substr(0, sub_path.size()) == sub_path &&
                                  path.size() > sub_path.size() && path[sub_path.size()] == '/');
  }
  return false;
}

std::shared_ptr<RtdbSession> RtdbSession::Create(SessionConfig config, SessionDeps deps) {
  return std::make_shared<RtdbSession>(std::move(config), std::move(deps));
}

RtdbSession::RtdbSession(SessionConfig config, SessionDeps deps)
    : config_(std::move(config)),
      deps_(std::move(deps)),
      limits_(deps_.store->limits()),
      presence_tokens_(kPresenceBurst),
      presence_last_(std::chrono::steady_clock::now()) {
  // Comment rights exist only on side databases (§6.1).
  if (config_.access == Access::kComment && !absl::EndsWith(config_.file_id, "~meta"))
    config_.access = Access::kRead;
  lock_holder_ = config_.id_tag ? *config_.id_tag : "anon:" + config_.conn_id;
}

void RtdbSession::Start() {
  deps_.hub->Join(config_.tn_id, config_.file_id, shared_from_this());
  if (!config_.presence) return;
  std::optional<Json> roster = deps_.hub->PresenceJoin(config_.tn_id, config_.file_id, config_.conn_id);
  if (!roster) return;  // room full: the database still works, presence frames get 400
  std::lock_guard<std::mutex> lock(mu_);
  presence_enabled_ = true;
  SendLocked(
      Json{{"id", RandomId()},
           {"type", "presenceChange"},
           {"event", {{"action", "sync"}, {"connId", config_.conn_id}, {"users", std::move(*roster)}}}});
}

void RtdbSession::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    subs_.clear();
  }
  deps_.hub->Leave(config_.tn_id, config_.file_id, this);
  if (presence_enabled_) {
    deps_.hub->PresenceRemove(config_.tn_id, config_.file_id, config_.conn_id);
    deps_.hub->Publish(config_.tn_id, config_.file_id,
                       Json{{"k", "p"}, {"a", "leave"}, {"c", config_.conn_id}});
  }
  auto released = deps_.store->ReleaseConnection(config_.tn_id, config_.file_id, config_.conn_id);
  if (!released.ok()) {
    // They expire after lock_ttl_seconds without heartbeats.
    LogWarn("rtdb: releasing locks failed", {{"error", released.status().ToString()}});
    return;
  }
  for (const std::string& path : *released)
    deps_.hub->Publish(config_.tn_id, config_.file_id,
                       Json{{"k", "c"},
                            {"a", "unlock"},
                            {"p", path},
                            {"d", {{"userId", lock_holder_}, {"connId", config_.conn_id}}},
                            {"c", config_.conn_id}});
}

void RtdbSession::Heartbeat() {
  auto st = deps_.store->RefreshLocks(config_.tn_id, config_.file_id, config_.conn_id);
  if (!st.ok()) LogWarn("rtdb: refreshing locks failed", {{"error", st.ToString()}});
}

void RtdbSession::SendLocked(const Json& frame) {
  if (!closed_) deps_.send(Dump(frame));
}

void RtdbSession::Answer(const Json& id, const std::string& type, Json fields) {
  Json frame = Json{{"id", id}, {"type", type}};
  for (auto& [k, v] : fields.items()) frame[k] = std::move(v);
  std::lock_guard<std::mutex> lock(mu_);
  SendLocked(frame);
}

void RtdbSession::Error(const Json& id, int code, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  SendLocked(Json{{"id", id}, {"type", "error"}, {"code", code}, {"message", message}});
}

bool RtdbSession::MayWrite(std::string_view path) const {
  switch (config_.access) {
    case Access::kWrite:
    case Access::kAdmin:
      return true;
    case Access::kComment: {
      std::string_view top = path.substr(0, path.find('/'));
      return top == "t" || top == "c";
    }
    case Access::kRead:
      return false;
  }
  return false;
}

void RtdbSession::HandleText(std::string_view text) {
  if (text.size() > limits_.max_frame_bytes) {
    deps_.close(kCloseTooBig, "message too big");
    return;
  }
  // Like the reference, a frame that is not {"id", "type": string, ...} gets no answer.
  std::optional<Json> frame = ParseJson(text, limits_.max_json_depth);
  if (!frame || !frame->is_object()) return;
  const Json* id = Member(*frame, "id");
  auto type = StringMember(*frame, "type");
  if (id == nullptr || !type) return;
  const Json msg_id = *id;
  if (*type == "query") return DoQuery(msg_id, *frame);
  if (*type == "get") return DoGet(msg_id, *frame);
  if (*type == "subscribe") return DoSubscribe(msg_id, *frame);
  if (*type == "unsubscribe") return DoUnsubscribe(msg_id, *frame);
  if (*type == "transaction") return DoTransaction(msg_id, *frame);
  if (*type == "lock") return DoLock(msg_id, *frame, true);
  if (*type == "unlock") return DoLock(msg_id, *frame, false);
  if (*type == "createIndex") return DoCreateIndex(msg_id, *frame);
  if (*type == "presence") return DoPresence(msg_id, *frame);
  if (*type == "ping") return Answer(msg_id, "pong");
  Error(msg_id, 400, "Unknown command: " + type->substr(0, 64));
}

void RtdbSession::DoQuery(const Json& id, const Json& frame) {
  auto path = NormalizePath(StringMember(frame, "path").value_or(""), limits_);
  if (!path.ok()) return Error(id, 400, "Invalid path");
  auto docs = deps_.store->Query(config_.tn_id, config_.file_id, *path, ParseReadOptions(frame, limits_));
  if (!docs.ok()) return Error(id, 500, "Query failed");
  Answer(id, "queryResult", Json{{"data", std::move(*docs)}});
}

void RtdbSession::DoGet(const Json& id, const Json& frame) {
  auto path = NormalizePath(StringMember(frame, "path").value_or(""), limits_);
  if (!path.ok()) return Error(id, 400, "Invalid path");
  auto doc = deps_.store->Get(config_.tn_id, config_.file_id, *path);
  if (!doc.ok()) return Error(id, 404, "Document not found");
  ReadOptions o = ParseReadOptions(frame, limits_);
  Answer(id, "getResult", Json{{"data", *doc ? Project(**doc, o.select) : Json(nullptr)}});
}

void RtdbSession::DoSubscribe(const Json& id, const Json& frame) {
  auto path = NormalizePath(StringMember(frame, "path").value_or(""), limits_);
  if (!path.ok()) return Error(id, 400, "Invalid path");
  ReadOptions o = ParseReadOptions(frame, limits_);
  auto sub = std::make_shared<Subscription>();
  sub->id = "sub-" + RandomId();
  sub->path = *path;
  sub->scope = ParseScope(frame);
  sub->filter = std::move(o.filter);
  sub->aggregate = std::move(o.aggregate);
  if (!sub->aggregate) sub->select = std::move(o.select);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (subs_.size() >= limits_.max_subscriptions) {
      SendLocked(Json{{"id", id}, {"type", "error"}, {"code", 400}, {"message", "Too many subscriptions"}});
      return;
    }
    // Registered before the initial read, so nothing committed in between is missed;
    // what arrives meanwhile waits in `pending` until `ready` is out.
    subs_[sub->id] = sub;
  }
  absl::StatusOr<std::vector<Json>> initial =
      sub->aggregate ? deps_.store->AggregateScan(config_.tn_id, config_.file_id, sub->path, sub->scope,
                                                  sub->filter, *sub->aggregate)
                     : deps_.store->Scan(config_.tn_id, config_.file_id, sub->path, sub->scope, sub->filter);
  std::lock_guard<std::mutex> lock(mu_);
  if (!initial.ok()) {
    LogWarn("rtdb: subscription read failed", {{"error", initial.status().ToString()}});
    subs_.erase(sub->id);
    SendLocked(Json{{"id", id}, {"type", "error"}, {"code", 500}, {"message", "Subscribe failed"}});
    return;
  }
  SendLocked(Json{{"id", id}, {"type", "subscribeResult"}, {"subscriptionId", sub->id}});
  if (subs_.count(sub->id) == 0) return;  // unsubscribed meanwhile
  Json data = Json::array();
  for (const Json& d : *initial) data.push_back(sub->aggregate ? d : Project(d, sub->select));
  if (sub->aggregate) sub->groups = std::move(*initial);
  SendLocked(Change(sub->id, Json{{"action", "ready"}, {"path", sub->path}, {"data", std::move(data)}}));
  sub->ready = true;
  for (Json& e : sub->pending) SendLocked(Change(sub->id, std::move(e)));
  sub->pending.clear();
  if (sub->aggregate && sub->dirty) ScheduleRecompute(sub);
}

void RtdbSession::DoUnsubscribe(const Json& id, const Json& frame) {
  auto sub_id = StringMember(frame, "subscriptionId").value_or("");
  std::lock_guard<std::mutex> lock(mu_);
  subs_.erase(sub_id);
  SendLocked(Json{{"id", id}, {"type", "unsubscribeResult"}});
}

void RtdbSession::DoTransaction(const Json& id, const Json& frame) {
  const Json* ops = Member(frame, "operations");
  if (ops == nullptr || !ops->is_array()) return Error(id, 400, "Missing operations");
  if (ops->size() > limits_.max_operations) return Error(id, 400, "Too many operations");
  for (const Json& op : *ops) {
    if (!op.is_object()) return Error(id, 400, "Invalid operation");
    if (!MayWrite(StringMember(op, "path").value_or("")))
      return Error(id, 403,
                   config_.access == Access::kComment
                       ? "Comment access - writes restricted to comment collections"
                       : "Write access denied - read-only connection");
  }
  Json results;
  std::vector<Json> events;
  absl::Status st = deps_.store->Transact(config_.tn_id, config_.file_id, [&](TxStore& tx) -> absl::Status {
    results = Json::array();
    events.clear();
    std::unordered_map<std::string, std::string> refs;
    ComputedQuery query{[&](const std::string& kind, const std::string& qpath, const std::string& field,
                            const Json& filter) -> absl::StatusOr<Json> {
      auto p = NormalizePath(SubstituteRefs(qpath, refs), limits_);
      if (!p.ok()) return p.status();
      return tx.ComputedQuery(kind, *p, field, filter);
    }};
    for (const Json& op : *ops) {
      const std::string type = StringMember(op, "type").value_or("");
      auto normalized = NormalizePath(SubstituteRefs(StringMember(op, "path").value_or(""), refs), limits_);
      if (!normalized.ok()) return normalized.status();
      const std::string path = *normalized;
      if (!MayWrite(path)) return absl::PermissionDeniedError("Write access denied");
      const Json* data_in = Member(op, "data");
      Json data = data_in != nullptr && !data_in->is_null() ? *data_in : Json::object();
      if (type == "create") {
        if (IsDocumentPath(path)) return absl::InvalidArgumentError("create needs a collection path");
        if (!data.is_object()) return absl::InvalidArgumentError("data must be an object");
        if (absl::Status s = EvaluateComputed(data, Json::object(), query); !s.ok()) return s;
        const std::string doc_id = RandomId();
        data["id"] = doc_id;
        const std::string doc_path = path + "/" + doc_id;
        if (absl::Status s = tx.Put(doc_path, data, false); !s.ok()) return s;
        const Json* ref = Member(op, "ref");
        if (ref != nullptr && ref->is_string() && absl::StartsWith(ref->get_ref<const std::string&>(), "$"))
          refs[ref->get<std::string>().substr(1)] = doc_id;
        results.push_back(Json{{"ref", ref != nullptr ? *ref : Json(nullptr)}, {"id", doc_id}});
        events.push_back(Json{{"a", "create"}, {"p", doc_path}, {"d", std::move(data)}});
        continue;
      }
      if (type != "update" && type != "replace" && type != "delete")
        return absl::InvalidArgumentError("Invalid operation type");
      if (!IsDocumentPath(path)) return absl::InvalidArgumentError(type + " needs a document path");
      auto lock = tx.LockOf(path);
      if (!lock.ok()) return lock.status();
      if (*lock && (*lock)->hard && (*lock)->holder != lock_holder_)
        return absl::FailedPreconditionError("Document locked by " + (*lock)->holder);
      auto existing = tx.GetForUpdate(path);
      if (!existing.ok()) return existing.status();
      results.push_back(Json{{"ref", nullptr}, {"id", nullptr}});
      if (type == "delete") {
        if (!*existing) continue;
        if (absl::Status s = tx.Delete(path); !s.ok()) return s;
        events.push_back(Json{{"a", "delete"}, {"p", path}, {"o", std::move(**existing)}});
        continue;
      }
      const Json current = *existing ? **existing : Json::object();
      if (absl::Status s = EvaluateComputed(data, current, query); !s.ok()) return s;
      Json doc = current;
      if (type == "update") {
        if (absl::Status s = ShallowMerge(doc, data, limits_); !s.ok()) return s;
      } else {
        doc = std::move(data);
      }
      if (doc.is_object() && !doc.contains("id")) doc["id"] = std::string(LastSegment(path));
      if (absl::Status s = tx.Put(path, doc, existing->has_value()); !s.ok()) return s;
      Json ev{{"a", *existing ? "update" : "create"}, {"p", path}, {"d", std::move(doc)}};
      if (*existing) ev["o"] = std::move(**existing);
      events.push_back(std::move(ev));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) {
    auto [code, message] = ErrorOf(st);
    if (code == 500) LogWarn("rtdb: transaction failed", {{"error", st.ToString()}});
    return Error(id, code, message);
  }
  Answer(id, "transactionResult", Json{{"results", std::move(results)}});
  for (Json& ev : events) {
    ev["k"] = "c";
    ev["c"] = config_.conn_id;
    deps_.hub->Publish(config_.tn_id, config_.file_id, std::move(ev));
  }
}

void RtdbSession::DoLock(const Json& id, const Json& frame, bool lock) {
  auto path = NormalizePath(StringMember(frame, "path").value_or(""), limits_);
  if (!path.ok()) return Error(id, 400, "Invalid path");
  if (!MayWrite(*path)) return Error(id, 403, "Write access denied - read-only connection");
  if (lock) {
    const bool hard = StringMember(frame, "mode") == "hard";
    auto r = deps_.store->Lock(config_.tn_id, config_.file_id, *path, lock_holder_, hard, config_.conn_id);
    if (!r.ok()) return Error(id, 500, "Lock failed");
    if (*r) {
      return Answer(
          id, "lockResult",
          Json{{"locked", false}, {"holder", (*r)->holder}, {"mode", (*r)->hard ? "hard" : "soft"}});
    }
    Answer(id, "lockResult", Json{{"locked", true}});
    deps_.hub->Publish(
        config_.tn_id, config_.file_id,
        Json{{"k", "c"},
             {"a", "lock"},
             {"p", *path},
             {"d", {{"userId", lock_holder_}, {"mode", hard ? "hard" : "soft"}, {"connId", config_.conn_id}}},
             {"c", config_.conn_id}});
    return;
  }
  auto r = deps_.store->Unlock(config_.tn_id, config_.file_id, *path, lock_holder_);
  if (!r.ok()) return Error(id, 500, "Unlock failed");
  Answer(id, "unlockResult");
  if (*r)
    deps_.hub->Publish(config_.tn_id, config_.file_id,
                       Json{{"k", "c"},
                            {"a", "unlock"},
                            {"p", *path},
                            {"d", {{"userId", lock_holder_}, {"connId", config_.conn_id}}},
                            {"c", config_.conn_id}});
}

void RtdbSession::DoCreateIndex(const Json& id, const Json& frame) {
  auto raw_path = StringMember(frame, "path").value_or("");
  auto field = StringMember(frame, "field").value_or("");
  if (raw_path.empty() || field.empty()) return Error(id, 400, "Missing path or field for index creation");
  auto path = NormalizePath(raw_path, limits_);
  if (!path.ok()) return Error(id, 400, "Invalid path");
  if (!MayWrite(*path)) return Error(id, 403, "Write access denied - read-only connection");
  absl::Status st = deps_.store->CreateIndex(field);
  if (absl::IsInvalidArgument(st)) return Error(id, 400, "Invalid index field");
  if (!st.ok()) return Error(id, 500, "Create index failed");
  Answer(id, "createIndexResult");
}

void RtdbSession::DoPresence(const Json& id, const Json& frame) {
  if (!presence_enabled_) return Error(id, 400, "Presence not enabled for this connection");
  const Json* in = Member(frame, "state");
  Json message{{"k", "p"}, {"c", config_.conn_id}};
  if (in == nullptr || in->is_null()) {
    message["a"] = "leave";
    presence_published_ = false;
  } else {
    Json state = *in;
    if (state.is_object()) {
      if (auto user = state.find("user"); user != state.end()) {
        if (!user->is_object()) return Error(id, 400, "Presence state `user` must be an object");
        if (config_.id_tag) {
          (*user)["idTag"] = *config_.id_tag;
        } else {
          user->erase("idTag");
        }
      }
    }
    if (Dump(state).size() > limits_.max_presence_bytes) return Error(id, 413, "Presence state too large");
    auto now = std::chrono::steady_clock::now();
    presence_tokens_ = std::min(
        kPresenceBurst,
        presence_tokens_ + std::chrono::duration<double>(now - presence_last_).count() * kPresencePerSecond);
    presence_last_ = now;
    if (presence_tokens_ < 1) return Answer(id, "presenceResult", Json{{"throttled", true}});
    presence_tokens_ -= 1;
    message["a"] = presence_published_ ? "update" : "join";
    message["s"] = std::move(state);
    presence_published_ = true;
  }
  Answer(id, "presenceResult");
  deps_.hub->Publish(config_.tn_id, config_.file_id, std::move(message));
}

std::optional<Json> RtdbSession::EventFor(const Subscription& sub, const Json& msg) const {
  const std::string action = StringMember(msg, "a").value_or("");
  const std::string path = StringMember(msg, "p").value_or("");
  if (!InScope(sub.path, sub.scope, path)) return std::nullopt;
  const Json* data = Member(msg, "d");
  const Json* old = Member(msg, "o");
  if (action == "lock" || action == "unlock") {
    Json ev{{"action", action}, {"path", path}};
    if (data != nullptr) ev["data"] = *data;
    return ev;
  }
  const bool old_matches = old != nullptr && (!sub.filter || sub.filter->Matches(*old));
  if (action == "delete") {
    if (!old_matches) return std::nullopt;
    return Json{{"action", "delete"}, {"path", path}};
  }
  if ((action != "create" && action != "update") || data == nullptr) return std::nullopt;
  if (sub.filter && !sub.filter->Matches(*data)) {
    // It left the filtered set: to the client that is a deletion.
    if (old_matches) return Json{{"action", "delete"}, {"path", path}};
    return std::nullopt;
  }
  if (!sub.select.empty() && old_matches && action == "update" &&
      std::all_of(sub.select.begin(), sub.select.end(), [&](const std::string& f) {
        auto a = old->find(f);
        auto b = data->find(f);
        return (a == old->end()) == (b == data->end()) && (a == old->end() || *a == *b);
      }))
    return std::nullopt;  // nothing it selected changed
  return Json{{"action", action}, {"path", path}, {"data", Project(*data, sub.select)}};
}

void RtdbSession::DeliverLocked(Subscription& sub, Json event) {
  if (sub.ready) return SendLocked(Change(sub.id, std::move(event)));
  if (sub.pending.size() >= limits_.max_pending_events) {
    // The client could not be told what it missed: it reconnects and reloads.
    deps_.close(kCloseTryLater, "too many changes");
    closed_ = true;
    return;
  }
  sub.pending.push_back(std::move(event));
}

void RtdbSession::OnMessage(const Json& msg) {
  auto kind = StringMember(msg, "k");
  const std::string origin = StringMember(msg, "c").value_or("");
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  if (kind == "p") {
    if (!presence_enabled_ || origin == config_.conn_id) return;
    Json event{{"action", StringMember(msg, "a").value_or("")}, {"connId", origin}};
    if (const Json* s = Member(msg, "s"); s != nullptr) event["state"] = *s;
    SendLocked(Json{{"id", RandomId()}, {"type", "presenceChange"}, {"event", std::move(event)}});
    return;
  }
  if (kind != "c") return;
  const std::string action = StringMember(msg, "a").value_or("");
  const bool lock_event = action == "lock" || action == "unlock";
  // The originator already has its lockResult.
  if (lock_event && origin == config_.conn_id) return;
  for (auto& [id, sub] : subs_) {
    if (closed_) return;
    if (sub->aggregate) {
      if (lock_event) {
        if (auto ev = EventFor(*sub, msg)) DeliverLocked(*sub, std::move(*ev));
      } else if (InScope(sub->path, sub->scope, StringMember(msg, "p").value_or(""))) {
        sub->dirty = true;
        if (sub->ready) ScheduleRecompute(sub);
      }
      continue;
    }
    if (auto ev = EventFor(*sub, msg)) DeliverLocked(*sub, std::move(*ev));
  }
}

void RtdbSession::ScheduleRecompute(const std::shared_ptr<Subscription>& sub) {
  if (sub->recompute_running) return;  // it picks up `dirty` when done
  sub->recompute_running = true;
  std::weak_ptr<RtdbSession> weak = weak_from_this();
  deps_.post([weak, sub] {
    if (auto self = weak.lock()) self->Recompute(sub);
  });
}

void RtdbSession::Recompute(const std::shared_ptr<Subscription>& sub) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    sub->dirty = false;
  }
  auto groups = deps_.store->AggregateScan(config_.tn_id, config_.file_id, sub->path, sub->scope, sub->filter,
                                           *sub->aggregate);
  std::lock_guard<std::mutex> lock(mu_);
  sub->recompute_running = false;
  if (closed_ || subs_.count(sub->id) == 0) return;
  if (groups.ok()) {
    if (sub->aggregate->HasMinMax()) {
      // min/max cannot be patched: the client replaces its whole set.
      if (*groups != sub->groups)
        SendLocked(Change(sub->id, Json{{"action", "replace"}, {"path", sub->path}, {"data", *groups}}));
    } else {
      Json delta = Json::array();
      for (const Json& g : *groups)
        if (std::find(sub->groups.begin(), sub->groups.end(), g) == sub->groups.end()) delta.push_back(g);
      for (const Json& old : sub->groups) {
        const bool still = std::any_of(groups->begin(), groups->end(),
                                       [&](const Json& g) { return g.at("group") == old.at("group"); });
        if (!still) {
          Json gone = old;
          gone["count"] = 0;  // a group with count 0 is a removal
          delta.push_back(std::move(gone));
        }
      }
      if (!delta.empty())
        SendLocked(
            Change(sub->id, Json{{"action", "update"}, {"path", sub->path}, {"data", std::move(delta)}}));
    }
    sub->groups = std::move(*groups);
  } else {
    LogWarn("rtdb: aggregate recompute failed", {{"error", groups.status().ToString()}});
  }
  if (sub->dirty) ScheduleRecompute(sub);
}

}  // namespace cloudillo::collab::rtdb
