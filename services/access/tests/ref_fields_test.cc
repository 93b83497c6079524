// The client-supplied parts of refs: what POST and PATCH /api/refs accept, and the
// hostile inputs each refuses with a 400 before anything reaches SQL.
#include "ref_fields.h"

#include <gtest/gtest.h>

namespace cloudillo::access {
namespace {

using json = nlohmann::json;
constexpr int64_t kNow = 1700000000;

TEST(RefIds, AcceptsMintedAndRefusesHostile) {
  EXPECT_TRUE(IsRefId("aZ09aZ09aZ09aZ09aZ09aZ09"));
  EXPECT_TRUE(IsRefId("ab-_c"));
  EXPECT_FALSE(IsRefId(""));
  EXPECT_FALSE(IsRefId(std::string(65, 'a')));
  for (const char* bad : {"a b", "a/b", "../x", "a%00", "a'b", "a\"b", "ä", "a\nb", "a;b"})
    EXPECT_FALSE(IsRefId(bad)) << bad;
}

TEST(RefIds, FileIdsFollowTheScopeRule) {
  EXPECT_TRUE(IsScopeFileId("f1~Nq1Y0Z5w9kD3nN-3eU1yYp8n5hCqJ2E1mZ0c2d3e4f5"));
  EXPECT_TRUE(IsScopeFileId("a1B2c3D4e5F6g7H8i9J0k1L2"));
  EXPECT_FALSE(IsScopeFileId(""));
  EXPECT_FALSE(IsScopeFileId("f1~a:W"));  // a colon would let the id forge the scope's level
  EXPECT_FALSE(IsScopeFileId("f1~a,file:b"));
  EXPECT_FALSE(IsScopeFileId(std::string(201, 'a')));
}

TEST(AccessLevels, NamesAndLettersRoundTripAndAdminIsRefused) {
  for (char c : {'R', 'C', 'W'}) EXPECT_EQ(ParseAccessLevel(AccessLevelName(c)), c);
  EXPECT_EQ(ParseAccessLevel("W"), 'W');
  EXPECT_EQ(ParseAccessLevel("admin"), 0);
  EXPECT_EQ(ParseAccessLevel("A"), 0);
  EXPECT_EQ(ParseAccessLevel("Read"), 0);
  EXPECT_EQ(ParseAccessLevel(""), 0);
}

TEST(RefCreate, DefaultsToOneReadUse) {
  auto c = ParseRefCreate(json{{"type", "share.file"}, {"resourceId", "f1~x"}}, kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->count, 1);
  EXPECT_EQ(c->access_level, 'R');
  EXPECT_FALSE(c->expires_at);
  EXPECT_EQ(c->resource_id, "f1~x");
}

TEST(RefCreate, NullCountIsUnlimitedAndTimesParse) {
  auto c = ParseRefCreate(json{{"type", "share.file"},
                               {"resourceId", "f1~x"},
                               {"count", nullptr},
                               {"accessLevel", "comment"},
                               {"expiresAt", "2099-01-01T00:00:00Z"},
                               {"description", "for Bob"},
                               {"params", "mode=present"}},
                          kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->count);
  EXPECT_EQ(c->access_level, 'C');
  EXPECT_EQ(c->expires_at, 4070908800);
  EXPECT_EQ(c->description, "for Bob");
  EXPECT_EQ(c->params, "mode=present");
  auto snake = ParseRefCreate(json{{"type", "share.file"}, {"expires_at", kNow + 60}}, kNow);
  ASSERT_TRUE(snake.ok());
  EXPECT_EQ(snake->expires_at, kNow + 60);
}

TEST(RefCreate, HostileBodiesAreBadRequests) {
  const json bodies[] = {
      json::object(),
      {{"type", ""}},
      {{"type", 7}},
      {{"type", "share.file"}, {"count", 0}},
      {{"type", "share.file"}, {"count", -1}},
      {{"type", "share.file"}, {"count", 1.5}},
      {{"type", "share.file"}, {"count", "3"}},
      {{"type", "share.file"}, {"count", 1000001}},
      {{"type", "share.file"}, {"expiresAt", kNow}},
      {{"type", "share.file"}, {"expiresAt", "yesterday"}},
      {{"type", "share.file"}, {"expiresAt", "1999-01-01T00:00:00Z"}},
      {{"type", "share.file"}, {"expiresAt", int64_t(1) << 60}},
      {{"type", "share.file"}, {"expiresAt", json::array()}},
      {{"type", "share.file"}, {"accessLevel", "admin"}},
      {{"type", "share.file"}, {"accessLevel", 1}},
      {{"type", "share.file"}, {"resourceId", "f1~a:W"}},
      {{"type", "share.file"}, {"resourceId", ""}},
      {{"type", "share.file"}, {"resourceId", 5}},
      {{"type", "share.file"}, {"description", std::string(2049, 'x')}},
      {{"type", "share.file"}, {"params", json::object()}},
  };
  for (const json& b : bodies) {
    auto c = ParseRefCreate(b, kNow);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << b.dump();
  }
}

TEST(RefUpdate, FieldsAreSetClearedOrLeft) {
  auto u = ParseRefUpdate(json{{"count", nullptr}, {"description", "x"}}, kNow);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->count.present);
  EXPECT_FALSE(u->count.value);
  EXPECT_EQ(u->description.value, "x");
  EXPECT_FALSE(u->expires_at.present);
  EXPECT_FALSE(u->access_level);
  auto w = ParseRefUpdate(json{{"accessLevel", "write"}}, kNow);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->access_level, 'W');
}

TEST(RefUpdate, HostileBodiesAreBadRequests) {
  const json bodies[] = {
      json::object(),
      {{"unknown", 1}},
      {{"count", 0}},
      {{"count", -5}},
      {{"accessLevel", nullptr}},
      {{"accessLevel", "admin"}},
      {{"expiresAt", kNow - 1}},
      {{"description", 3}},
  };
  for (const json& b : bodies) {
    auto u = ParseRefUpdate(b, kNow);
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << b.dump();
  }
}

// 2026-01-01T00:00:00Z is 1767225600.
TEST(RefExpiry, PastAndPresentAreExpiredFutureAndNeverAreNot) {
  EXPECT_FALSE(RefExpired("", 1767225600));
  EXPECT_TRUE(RefExpired("2026-01-01T00:00:00Z", 1767225600));  // the last second is gone
  EXPECT_TRUE(RefExpired("2025-12-31T23:59:59Z", 1767225600));
  EXPECT_FALSE(RefExpired("2026-01-01T00:00:01Z", 1767225600));
  EXPECT_FALSE(RefExpired("9999-12-31T23:59:59Z", 1767225600));
}

TEST(RefExpiry, UnreadableTimesCountAsExpired) {
  for (const char* t : {"tomorrow", "2026-13-01T00:00:00Z", "2026-01-01", "2026-01-01T00:00:00",
                        "2026-01-01T00:00:00Z junk", " "})
    EXPECT_TRUE(RefExpired(t, 1767225600)) << "[" << t << "]";
}

}  // namespace
}  // namespace cloudillo::access
