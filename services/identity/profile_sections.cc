#include "profile_sections.h"

#include <set>
#include <string>

#include "cloudillo/core/list_items.h"
#include "cloudillo/rpc/api.h"

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;
constexpr std::string_view kVisSuffix = ".vis";
// Community roles from the lowest (level 1) to the highest (level 4).
constexpr std::string_view kCommunityRoles[] = {"supporter", "contributor", "moderator", "leader"};

// The field a marker key gates, or empty when `key` is no marker.
std::string_view GatedField(std::string_view key) {
  if (key.size() <= kVisSuffix.size() || key.substr(key.size() - kVisSuffix.size()) != kVisSuffix) return {};
  return key.substr(0, key.size() - kVisSuffix.size());
}

std::string_view MarkerWord(const json& value) {
  // Markers are words; anything else is an unknown marker and fails closed.
  return value.is_string() ? std::string_view(value.get_ref<const std::string&>()) : std::string_view("\x01");
}

}  // namespace

int CommunityRoleLevel(std::string_view word) {
  for (int level = 1; level <= 4; ++level) {
    if (word == kCommunityRoles[level - 1]) return level;
  }
  return 0;
}

int HighestCommunityRole(std::string_view roles) {
  // The token's role list is read as every other check reads it (rpc::HasRole).
  for (int level = 4; level >= 1; --level) {
    if (rpc::HasRole(roles, kCommunityRoles[level - 1])) return level;
  }
  return 0;
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
      ForEachListItem(it.value().get_ref<const std::string&>(), ',', [&](std::string_view name) {
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
