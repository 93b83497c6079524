#include "profile_sections.h"

#include <gtest/gtest.h>

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;

const Viewer kGuest{};
const Viewer kVerified{.authenticated = true};
const Viewer kFollower{.authenticated = true, .follower = true};
const Viewer kConnected{.authenticated = true, .connected = true};
Viewer Role(int level) { return Viewer{.authenticated = true, .role = level}; }
const Viewer kOwner{.owner = true, .authenticated = true};

// One section per marker word, plus an unmarked one and an unknown word.
json Sample() {
  return json{{"sections", "about,pub,ver,fol,con,sup,mod,odd,bad"},
              {"about", "hi"},
              {"pub", "p"},
              {"pub.vis", "public"},
              {"ver", "v"},
              {"ver.vis", "verified"},
              {"fol", "f"},
              {"fol.vis", "follower"},
              {"con", "c"},
              {"con.vis", "connected"},
              {"sup", "s"},
              {"sup.vis", "supporter"},
              {"mod", "m"},
              {"mod.vis", "moderator"},
              {"odd", "o"},
              {"odd.vis", "P"},  // the old letter markers are unknown words now
              {"bad", "b"},
              {"bad.vis", 3}};  // not a word at all
}

TEST(ProfileSectionsTest, AGuestSeesPublicAndUnmarkedSectionsOnly) {
  json seen = VisibleSections(Sample(), kGuest);
  EXPECT_EQ(seen, (json{{"sections", "about,pub"}, {"about", "hi"}, {"pub", "p"}, {"pub.vis", "public"}}));
}

TEST(ProfileSectionsTest, EachStandingSeesWhatItsWordAllows) {
  auto keys = [](const json& j) {
    std::string out;
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "sections" && it.key().find('.') == std::string::npos) out += it.key() + " ";
    return out;
  };
  // nlohmann::json orders keys alphabetically.
  EXPECT_EQ(keys(VisibleSections(Sample(), kVerified)), "about pub ver ");
  EXPECT_EQ(keys(VisibleSections(Sample(), kFollower)), "about fol pub ver ");
  EXPECT_EQ(keys(VisibleSections(Sample(), kConnected)), "about con fol pub ver ");
  EXPECT_EQ(keys(VisibleSections(Sample(), Role(1))), "about con fol pub sup ver ");
  EXPECT_EQ(keys(VisibleSections(Sample(), Role(3))), "about con fol mod pub sup ver ");
  EXPECT_EQ(keys(VisibleSections(Sample(), Role(4))), "about con fol mod pub sup ver ");
}

TEST(ProfileSectionsTest, TheOwnerSeesEverythingIncludingUnknownMarkers) {
  EXPECT_EQ(VisibleSections(Sample(), kOwner), Sample());
}

TEST(ProfileSectionsTest, AHiddenSectionLosesItsEntryMarkerAndName) {
  json seen = VisibleSections(Sample(), kVerified);
  EXPECT_FALSE(seen.contains("fol"));
  EXPECT_FALSE(seen.contains("fol.vis"));
  EXPECT_EQ(seen["sections"], "about,pub,ver");
  EXPECT_EQ(seen["ver.vis"], "verified");  // a visible marker stays
}

TEST(ProfileSectionsTest, AnEmptiedSectionListIsDropped) {
  json x{{"sections", " fol , ,fol"}, {"fol", "f"}, {"fol.vis", "follower"}};
  EXPECT_EQ(VisibleSections(x, kGuest), json::object());
  // A marker without its field still hides the name.
  EXPECT_EQ(VisibleSections(json{{"sections", "a,b"}, {"b.vis", "leader"}}, kGuest),
            (json{{"sections", "a"}}));
}

TEST(ProfileSectionsTest, RolesComeFromTheRoleListAndUnknownWordsCountForNothing) {
  EXPECT_EQ(HighestCommunityRole("public,follower"), 0);
  EXPECT_EQ(HighestCommunityRole("follower,contributor,x"), 2);
  EXPECT_EQ(HighestCommunityRole("leader, supporter"), 4);
  EXPECT_EQ(HighestCommunityRole("LEADER"), 0);
  EXPECT_EQ(HighestCommunityRole(""), 0);
  EXPECT_FALSE(MaySee(kVerified, "Public"));
  EXPECT_FALSE(MaySee(Role(4), ""));
  EXPECT_TRUE(MaySee(kGuest, "world"));
  EXPECT_FALSE(MaySee(Viewer{.role = 4}, "supporter"));  // a role needs authentication
}

TEST(ProfileSectionsTest, OnlyFollowerAndConnectedMarkersNeedTheRelationship) {
  EXPECT_FALSE(DependsOnRelationship(json{{"a.vis", "verified"}, {"b.vis", "leader"}, {"follower", "x"}}));
  EXPECT_TRUE(DependsOnRelationship(json{{"a.vis", "connected"}}));
  EXPECT_TRUE(DependsOnRelationship(json{{"a.vis", "follower"}}));
  EXPECT_FALSE(DependsOnRelationship(json::array()));
}

TEST(ProfileSectionsTest, HostileShapesAreHandled) {
  EXPECT_EQ(VisibleSections(json("text"), kGuest), json::object());
  EXPECT_EQ(VisibleSections(json{{".vis", "x"}}, kGuest),
            (json{{".vis", "x"}}));  // gates nothing: not a marker
  json nested{{"a.vis.vis", "leader"}, {"a.vis", "public"}, {"a", "1"}};
  // `a.vis.vis` hides the field `a.vis`, which is `a`'s marker; `a` itself stays public.
  EXPECT_EQ(VisibleSections(nested, kGuest), (json{{"a", "1"}}));
  json sections_not_text{{"sections", json::array({"x"})}, {"x.vis", "leader"}};
  EXPECT_EQ(VisibleSections(sections_not_text, kGuest), (json{{"sections", json::array({"x"})}}));
}

}  // namespace
}  // namespace cloudillo::identity
