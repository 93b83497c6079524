#include "reply_cache.h"

#include <gtest/gtest.h>

namespace cloudillo::gateway {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

cloudillo::v1::ApiReply Reusable(const std::string& body, const std::string& tag,
                                 int64_t max_age_ms = 60000) {
  cloudillo::v1::ApiReply r;
  r.set_data_json(body);
  r.mutable_cache()->set_max_age_ms(max_age_ms);
  r.mutable_cache()->set_tag(tag);
  return r;
}

std::string Body(ReplyCache& c, const std::string& key, int64_t tn, absl::Time now = kNow) {
  auto hit = c.Find(key, tn, now);
  return hit ? hit->data_json() : "<miss>";
}

TEST(ReplyCache, KeepsOnlyWhatTheServiceMarkedReusable) {
  ReplyCache c;
  cloudillo::v1::ApiReply plain;
  plain.set_data_json("{}");
  c.Store("plain", 1, plain, c.Generation(), kNow);
  c.Store("untagged", 1, Reusable("{}", ""), c.Generation(), kNow);
  c.Store("me", 1, Reusable("{\"a\":1}", "profile:1"), c.Generation(), kNow);
  EXPECT_EQ(Body(c, "plain", 1), "<miss>");
  EXPECT_EQ(Body(c, "untagged", 1), "<miss>");
  EXPECT_EQ(Body(c, "me", 1), "{\"a\":1}");
  EXPECT_FALSE(c.Find("me", 1, kNow)->has_cache());  // the policy is not handed on
  EXPECT_EQ(Body(c, "me", 2), "<miss>");             // never another tenant's
  EXPECT_EQ(Body(c, "me", 1, kNow + absl::Seconds(61)), "<miss>");
}

TEST(ReplyCache, AnInvalidatedTagDropsItsEntriesOnly) {
  ReplyCache c;
  c.Store("me:1", 1, Reusable("one", "profile:1"), c.Generation(), kNow);
  c.Store("me:2", 2, Reusable("two", "profile:2"), c.Generation(), kNow);
  EXPECT_EQ(Body(c, "me:1", 1), "one");  // found fresh: checked at this generation
  c.Invalidate("profile:1");
  EXPECT_EQ(Body(c, "me:1", 1), "<miss>");
  EXPECT_EQ(Body(c, "me:2", 2), "two");
  // Found fresh after the invalidation, then invalidated in turn.
  c.Invalidate("profile:2");
  EXPECT_EQ(Body(c, "me:2", 2), "<miss>");
}

TEST(ReplyCache, AReplyFetchedAcrossAnInvalidationIsNotKept) {
  ReplyCache c;
  uint64_t before = c.Generation();
  c.Invalidate("profile:1");
  c.Store("me:1", 1, Reusable("old", "profile:1"), before, kNow);
  EXPECT_EQ(Body(c, "me:1", 1), "<miss>");
  uint64_t before_write = c.Generation();
  c.TenantChanged(1);
  c.Store("me:1", 1, Reusable("old", "profile:1"), before_write, kNow);
  EXPECT_EQ(Body(c, "me:1", 1), "<miss>");
  c.Store("me:1", 1, Reusable("new", "profile:1"), c.Generation(), kNow);
  EXPECT_EQ(Body(c, "me:1", 1), "new");
}

TEST(ReplyCache, AWriteOfTheTenantAndAClearDropEntries) {
  ReplyCache c;
  c.Store("a", 1, Reusable("a", "profile:1"), c.Generation(), kNow);
  c.Store("b", 2, Reusable("b", "profile:2"), c.Generation(), kNow);
  c.TenantChanged(1);
  EXPECT_EQ(Body(c, "a", 1), "<miss>");
  EXPECT_EQ(Body(c, "b", 2), "b");
  uint64_t before = c.Generation();
  c.Clear();
  EXPECT_EQ(Body(c, "b", 2), "<miss>");
  c.Store("b", 2, Reusable("b", "profile:2"), before, kNow);  // begun before the Clear
  EXPECT_EQ(Body(c, "b", 2), "<miss>");
}

// A flood of invalidations must not push out the record of one whose entry is still
// cached: when a record has to go, everything cached before counts as stale.
TEST(ReplyCache, ForgettingAnInvalidationRecordNeverServesAStaleEntry) {
  ReplyCache c;
  c.Store("me:1", 1, Reusable("old", "profile:1"), c.Generation(), kNow);
  c.Invalidate("profile:1");
  for (size_t i = 0; i < ReplyCache::kCapacity + 10; ++i) c.Invalidate("other:" + std::to_string(i));
  EXPECT_EQ(Body(c, "me:1", 1), "<miss>");
  c.Store("me:1", 1, Reusable("new", "profile:1"), c.Generation(), kNow);
  EXPECT_EQ(Body(c, "me:1", 1), "new");
}

// The download instance holds whole files: bounded by bytes as well as by count, the
// least recently used going first, and never more than the budget even for a moment.
TEST(ReplyCache, AByteBudgetEvictsTheOldestAndRefusesWhatCannotFit) {
  ReplyCache c(/*capacity=*/3, /*byte_budget=*/100);
  const std::string body40(40, 'x');  // 41 bytes with its one-letter key
  c.Store("a", 1, Reusable(body40, "files:1"), c.Generation(), kNow);
  c.Store("b", 1, Reusable(body40, "files:1"), c.Generation(), kNow);
  EXPECT_EQ(c.Bytes(), 82u);
  EXPECT_EQ(Body(c, "a", 1), body40);  // a is now the more recent
  c.Store("c", 1, Reusable(body40, "files:1"), c.Generation(), kNow);
  EXPECT_EQ(Body(c, "b", 1), "<miss>");
  EXPECT_EQ(Body(c, "a", 1), body40);
  EXPECT_EQ(Body(c, "c", 1), body40);
  EXPECT_EQ(c.Bytes(), 82u);
  c.Store("huge", 1, Reusable(std::string(100, 'y'), "files:1"), c.Generation(), kNow);
  EXPECT_EQ(Body(c, "huge", 1), "<miss>");
  EXPECT_EQ(c.Bytes(), 82u);
  c.Store("a", 1, Reusable("short", "files:1"), c.Generation(), kNow);  // replaced, not added
  EXPECT_EQ(c.Bytes(), 41u + 6u);
  // By count: three small entries fit, a fourth evicts the oldest.
  c.Store("d", 1, Reusable("1", "files:1"), c.Generation(), kNow);
  c.Store("e", 1, Reusable("2", "files:1"), c.Generation(), kNow);
  EXPECT_EQ(Body(c, "c", 1), "<miss>");
  EXPECT_EQ(c.Bytes(), 6u + 2u + 2u);
  c.Store("f", 1, Reusable("3", "files:1"), c.Generation(), kNow + absl::Seconds(1));
  EXPECT_EQ(Body(c, "f", 1, kNow + absl::Seconds(120)), "<miss>");  // expired: dropped and uncounted
  EXPECT_EQ(c.Bytes(), 4u);
  c.Clear();
  EXPECT_EQ(c.Bytes(), 0u);
}

}  // namespace
}  // namespace cloudillo::gateway
