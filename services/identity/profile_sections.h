// Who may see which section of a profile's `x` map (PROTOCOL Appendix D.14).
//
// A key `<field>.vis` gates `<field>`. Its value is a word: `public` or `world`
// (everyone), `verified` (any authenticated caller), `follower` (follows the tenant, is
// connected, or holds a community role), `connected` (connected, or holds a role), or a
// community role `supporter` < `contributor` < `moderator` < `leader` (holding at least
// that role). Any other value fails closed: only the owner sees the section. A field
// without a marker is public. A hidden section loses its entry, its marker and its name
// in the comma-separated `sections` list, so a guest sees no hint that it exists.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace cloudillo::identity {

// The caller's standing towards the tenant whose profile it reads.
struct Viewer {
  bool owner = false;
  bool authenticated = false;
  bool follower = false;   // follows the tenant
  bool connected = false;  // mutually connected
  int role = 0;            // highest community role: 0 none, 1 supporter ... 4 leader
};

// 1..4 for a community role word, 0 for anything else.
int CommunityRoleLevel(std::string_view word);
// The highest community role in a comma-separated role list.
int HighestCommunityRole(std::string_view roles);

// Whether `viewer` may see a section whose marker holds `marker`.
bool MaySee(const Viewer& viewer, std::string_view marker);

// Whether the answer for a non-owner may depend on following or connection: some
// marker says `follower` or `connected` (then, and only then, the relationship must be
// looked up).
bool DependsOnRelationship(const nlohmann::json& x);

// `x` as `viewer` may see it (an object; empty when nothing is visible).
nlohmann::json VisibleSections(const nlohmann::json& x, const Viewer& viewer);

}  // namespace cloudillo::identity
