// The inbox's cache of identity answers: entries end after the TTL even without any
// message (a lost invalidation still lets a block through for TTL at most), identity's
// messages and the service's own writes drop them at once, an answer fetched across a
// drop is not stored, and both the tenants and each tenant's entries are bounded.
#include "tenant_cache.h"

#include <gtest/gtest.h>

#include "cloudillo/cache/invalidation.h"

namespace cloudillo::action {
namespace {

cloudillo::v1::Relationship Rel(const std::string& tag, const std::string& status) {
  cloudillo::v1::Relationship r;
  r.set_id_tag(tag);
  r.set_status(status);
  r.set_following(true);
  return r;
}

class TenantCacheTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  TenantCache cache_{clock_, {absl::Seconds(5), 4, 3}, nullptr};
};

TEST_F(TenantCacheTest, AnEntryLivesTtlAndNoLonger) {
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "A"), cache_.Generation());
  auto hit = cache_.FindRelationship(1, "bob.test");
  ASSERT_TRUE(hit.has_value());
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ((*hit)->status(), "A");
  clock_.Advance(absl::Seconds(4));
  EXPECT_TRUE(cache_.FindRelationship(1, "bob.test").has_value());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(cache_.FindRelationship(1, "bob.test").has_value()) << "a blocked issuer would stay accepted";

  cache_.PutSetting(1, "profile.default_visibility", "\"P\"", cache_.Generation());
  EXPECT_EQ(cache_.FindSetting(1, "profile.default_visibility").value_or(""), "\"P\"");
  clock_.Advance(absl::Seconds(5));
  EXPECT_FALSE(cache_.FindSetting(1, "profile.default_visibility").has_value());
}

TEST_F(TenantCacheTest, RemembersThatIdentityHasNoProfile) {
  cache_.PutRelationship(1, "nobody.test", std::nullopt, cache_.Generation());
  auto hit = cache_.FindRelationship(1, "nobody.test");
  ASSERT_TRUE(hit.has_value());
  EXPECT_FALSE(hit->has_value());
}

TEST_F(TenantCacheTest, TenantsAreApart) {
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "A"), cache_.Generation());
  cache_.PutSetting(1, "profile.connection_mode", "\"A\"", cache_.Generation());
  EXPECT_FALSE(cache_.FindRelationship(2, "bob.test").has_value());
  EXPECT_FALSE(cache_.FindSetting(2, "profile.connection_mode").has_value());
  cache_.OnInvalidation(cache::RelationsInvalidation(2));
  cache_.OnInvalidation(cache::SettingsInvalidation(2));
  EXPECT_TRUE(cache_.FindRelationship(1, "bob.test").has_value());
  EXPECT_TRUE(cache_.FindSetting(1, "profile.connection_mode").has_value());
}

TEST_F(TenantCacheTest, IdentitysMessagesDropTheirKindOnly) {
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "A"), cache_.Generation());
  cache_.PutSetting(1, "profile.connection_mode", "\"A\"", cache_.Generation());
  cache_.OnInvalidation(cache::RelationsInvalidation(1));
  EXPECT_FALSE(cache_.FindRelationship(1, "bob.test").has_value());
  EXPECT_TRUE(cache_.FindSetting(1, "profile.connection_mode").has_value());
  cache_.OnInvalidation(cache::SettingsInvalidation(1));
  EXPECT_FALSE(cache_.FindSetting(1, "profile.connection_mode").has_value());
}

TEST_F(TenantCacheTest, HostileAndForeignMessagesChangeNothing) {
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "A"), cache_.Generation());
  for (const char* m : {"relations:", "relations:x", "relations:1x", "settings:-", "profile:1", "tenant:1",
                        "relations", "", "relations:99999999999999999999999"})
    cache_.OnInvalidation(m);
  EXPECT_TRUE(cache_.FindRelationship(1, "bob.test").has_value());
}

TEST_F(TenantCacheTest, OwnWriteDropsThePeerAtOnce) {
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "A"), cache_.Generation());
  cache_.PutRelationship(1, "carol.test", Rel("carol.test", "A"), cache_.Generation());
  cache_.DropRelationship(1, "bob.test");
  EXPECT_FALSE(cache_.FindRelationship(1, "bob.test").has_value());
  EXPECT_TRUE(cache_.FindRelationship(1, "carol.test").has_value());
}

TEST_F(TenantCacheTest, AnAnswerFetchedAcrossADropIsNotStored) {
  uint64_t before = cache_.Generation();                   // the lookup starts asking identity
  cache_.OnInvalidation(cache::RelationsInvalidation(1));  // the block commits meanwhile
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "A"), before);
  EXPECT_FALSE(cache_.FindRelationship(1, "bob.test").has_value());
  cache_.PutSetting(1, "k", "1", before);
  EXPECT_FALSE(cache_.FindSetting(1, "k").has_value());
  cache_.Clear();
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "B"), cache_.Generation());
  EXPECT_EQ((*cache_.FindRelationship(1, "bob.test"))->status(), "B");
  uint64_t g = cache_.Generation();
  cache_.Clear();  // the subscription restarted
  EXPECT_FALSE(cache_.FindRelationship(1, "bob.test").has_value());
  cache_.PutRelationship(1, "bob.test", Rel("bob.test", "A"), g);
  EXPECT_FALSE(cache_.FindRelationship(1, "bob.test").has_value());
}

TEST_F(TenantCacheTest, TenantsAndPeersAreBounded) {
  // Four tenants at most: the least recently used goes first.
  for (int64_t tn = 1; tn <= 5; ++tn) cache_.PutSetting(tn, "k", "1", cache_.Generation());
  EXPECT_FALSE(cache_.FindSetting(1, "k").has_value());
  EXPECT_TRUE(cache_.FindSetting(5, "k").has_value());
  // Three peers per tenant: a fourth starts the tenant's peers over.
  for (int i = 0; i < 3; ++i) {
    std::string tag = "p" + std::to_string(i) + ".test";
    cache_.PutRelationship(5, tag, Rel(tag, "A"), cache_.Generation());
  }
  EXPECT_TRUE(cache_.FindRelationship(5, "p0.test").has_value());
  cache_.PutRelationship(5, "p3.test", Rel("p3.test", "A"), cache_.Generation());
  EXPECT_TRUE(cache_.FindRelationship(5, "p3.test").has_value());
  int left = 0;
  for (int i = 0; i < 3; ++i)
    left += cache_.FindRelationship(5, "p" + std::to_string(i) + ".test").has_value();
  EXPECT_EQ(left, 0);
}

TEST(TenantCacheOff, AZeroTtlCachesNothing) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  TenantCache cache(clock, {absl::ZeroDuration(), 4, 4}, nullptr);
  cache.PutRelationship(1, "bob.test", Rel("bob.test", "A"), cache.Generation());
  cache.PutSetting(1, "k", "1", cache.Generation());
  EXPECT_FALSE(cache.FindRelationship(1, "bob.test").has_value());
  EXPECT_FALSE(cache.FindSetting(1, "k").has_value());
}

}  // namespace
}  // namespace cloudillo::action
