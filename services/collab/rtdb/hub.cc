#include "hub.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cloudillo::collab::rtdb {

std::string RtdbHub::Channel(int64_t tn_id, const std::string& file_id) {
  return absl::StrCat("rtdb:", tn_id, ":", file_id);
}

void RtdbHub::Join(int64_t tn_id, const std::string& file_id, std::shared_ptr<RtdbListener> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_[{tn_id, file_id}].push_back(std::move(listener));
}

void RtdbHub::Leave(int64_t tn_id, const std::string& file_id, const RtdbListener* listener) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = listeners_.find({tn_id, file_id});
  if (it == listeners_.end()) return;
  auto& v = it->second;
  v.erase(std::remove_if(v.begin(), v.end(), [&](const auto& l) { return l.get() == listener; }), v.end());
  if (v.empty()) {
    listeners_.erase(it);
    // Nobody here shows this room any more: what we knew of it is not kept.
    rooms_.erase({tn_id, file_id});
  }
}

void RtdbHub::Publish(int64_t tn_id, const std::string& file_id, Json message) {
  message["tn"] = tn_id;
  message["f"] = file_id;
  publish_(Channel(tn_id, file_id), Dump(message));
}

size_t RtdbHub::Deliver(const std::string& channel, const std::string& text) {
  absl::string_view rest = channel;
  if (!absl::ConsumePrefix(&rest, "rtdb:")) return 0;
  // Documents nest at most a frame's depth plus an update's dot parts.
  std::optional<Json> msg = ParseJson(text, limits_.max_json_depth + int(limits_.max_dot_parts) + 8);
  if (!msg || !msg->is_object()) return 0;
  auto tn = msg->find("tn");
  auto f = msg->find("f");
  auto kind = msg->find("k");
  if (tn == msg->end() || !tn->is_number_integer() || f == msg->end() || !f->is_string() ||
      kind == msg->end() || !kind->is_string())
    return 0;
  Key key{tn->get<int64_t>(), f->get<std::string>()};
  if (rest != absl::StrCat(key.first, ":", key.second)) return 0;
  std::vector<std::shared_ptr<RtdbListener>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Rooms are kept only where a local connection is open on the file, so a
    // process does not mirror the presence of the whole cluster.
    if (*kind == "p" && listeners_.count(key)) {
      auto conn = msg->find("c");
      auto action = msg->find("a");
      if (conn == msg->end() || !conn->is_string() || action == msg->end() || !action->is_string()) return 0;
      auto& room = rooms_[key];
      const std::string& c = conn->get_ref<const std::string&>();
      if (*action == "leave") {
        room.erase(c);
      } else if (room.count(c) || room.size() < limits_.max_room_members) {
        auto state = msg->find("s");
        room[c] = state == msg->end() ? Json(nullptr) : *state;
      }
      if (room.empty()) rooms_.erase(key);
    }
    auto it = listeners_.find(key);
    if (it != listeners_.end()) targets = it->second;
  }
  for (const auto& l : targets) l->OnMessage(*msg);
  return targets.size();
}

std::optional<Json> RtdbHub::PresenceJoin(int64_t tn_id, const std::string& file_id,
                                          const std::string& conn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& room = rooms_[{tn_id, file_id}];
  if (room.size() >= limits_.max_room_members) return std::nullopt;
  Json users = Json::array();
  for (const auto& [conn, state] : room)
    if (!state.is_null()) users.push_back(Json{{"connId", conn}, {"state", state}});
  room.emplace(conn_id, Json(nullptr));
  return users;
}

void RtdbHub::PresenceRemove(int64_t tn_id, const std::string& file_id, const std::string& conn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rooms_.find({tn_id, file_id});
  if (it == rooms_.end()) return;
  it->second.erase(conn_id);
  if (it->second.empty()) rooms_.erase(it);
}

size_t RtdbHub::listeners() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [k, v] : listeners_) n += v.size();
  return n;
}

}  // namespace cloudillo::collab::rtdb
