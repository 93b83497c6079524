#include "profile_sections.h"

#include <algorithm>
#include <set>
#include <string>

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;
constexpr std::string_view kVisSuffix = ".vis";

// The field a marker key gates, or empty when `key` is no marker.
std::string_view GatedField(std::string_view key) {
  if (key.size() <= kVisSuffix.size() || key.substr(key.size() - kVisSuffix.size()) != kVisSuffix) return {};
  return key.substr(0, key.size() - kVisSuffix.size());
}

std::string_view MarkerWord(const json& value) {
  // Markers are words; anything else is an unknown marker and fails closed.
  return value.is_string() ? std::string_view(value.get_ref<const std::string&>()) : std::string_view("\x01");
}

// Calls `fn` with each comma-separated item of `list`, trimmed of spaces.
template <class Fn>
void ForEachItem(std::string_view list, Fn fn) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    fn(item);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

int CommunityRoleLevel(std::string_view word) {
  if (word == "supporter") return 1;
  if (word == "contributor") return 2;
  if (word == "moderator") return 3;
  if (word == "leader") return 4;
  return 0;
}

int HighestCommunityRole(std::string_view roles) {
  int best = 0;
  ForEachItem(roles, [&](std::string_view r) { best = std::max(best, CommunityRoleLevel(r)); });
  return best;
}

bool MaySee(const Viewer& viewer, std::string_view marker) {
  if (viewer.owner) return true;
  // A member (any community role) counts as connected: a role brings no connection of
  // its own, and members must not be hidden from each other by `connected`.
  bool member = viewer.role > 0;
  if (marker == "public" || marker == "world") return true;
  if (marker == "verified") return viewer.authenticated;
  if (marker == "follower") return viewer.follower || viewer.connected || member;
  if (marker == "connected") return viewer.connected || member;
  int needed = CommunityRoleLevel(marker);
  return needed > 0 && viewer.authenticated && viewer.role >= needed;
}

bool DependsOnRelationship(const json& x) {
  if (!x.is_object()) return false;
  for (auto it = x.begin(); it != x.end(); ++it) {
    if (GatedField(it.key()).empty()) continue;
    std::string_view word = MarkerWord(it.value());
    if (word == "follower" || word == "connected") return true;
  }
  return false;
}

json VisibleSections(const json& x, const Viewer& viewer) {
  json out = json::object();
  if (!x.is_object()) return out;
  if (viewer.owner) return x;
  std::set<std::string, std::less<>> hidden;
  for (auto it = x.begin(); it != x.end(); ++it) {
    std::string_view field = GatedField(it.key());
    if (!field.empty() && !MaySee(viewer, MarkerWord(it.value()))) hidden.emplace(field);
  }
  for (auto it = x.begin(); it != x.end(); ++it) {
    const std::string& key = it.key();
    if (key == "sections" && it.value().is_string()) {
      std::string kept;
      ForEachItem(it.value().get_ref<const std::string&>(), [&](std::string_view name) {
        if (name.empty() || hidden.count(name)) return;
        if (!kept.empty()) kept += ',';
        kept += name;
      });
      if (!kept.empty()) out[key] = kept;
      continue;
    }
    if (hidden.count(key)) continue;
    if (std::string_view field = GatedField(key); !field.empty() && hidden.count(field)) continue;
    out[key] = it.value();
  }
  return out;
}

}  // namespace cloudillo::identity
