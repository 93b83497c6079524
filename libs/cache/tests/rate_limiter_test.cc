#include "cloudillo/cache/rate_limiter.h"

#include <gtest/gtest.h>

#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

std::shared_ptr<Redis> TestRedis() {
  RedisConfig c;
  c.addr = cloudillo::testing::GetTestEnv().redis_addr;
  return Redis::Create(c);
}

TEST(ClientAddress, ParsesAndGroups) {
  auto a = ClientAddress::Parse("192.0.2.77");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->individual, "ipv4:192.0.2.77");
  EXPECT_EQ(a->network, "ipv4:192.0.2.0/24");
  auto b = ClientAddress::Parse("2001:db8:1:2:3:4:5:6");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->individual, "ipv6:2001:db8:1:2::/64");
  EXPECT_EQ(b->network, "ipv6:2001:db8:1::/48");
  EXPECT_THAT(ClientAddress::Parse("not-an-ip"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ClientAddress::Parse("1.2.3.4; DEL *"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RateLimiter, BurstThenLimitedWithLevel) {
  RateLimiter rl(TestRedis());
  BucketLimits b{"t" + RandomAlnum(6), {1, 3}, {}, {}, {}};
  auto addr = *ClientAddress::Parse("198.51.100.1");
  for (int i = 0; i < 3; ++i) {
    auto d = rl.Check(b, addr);
    ASSERT_THAT(d, IsOk());
    EXPECT_TRUE(d->allowed) << i;
  }
  auto d = rl.Check(b, addr);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->level, "ipv4_individual");
  EXPECT_LE(d->retry_after_secs, 1);
  // A neighbour on the same /24 has its own individual cell.
  EXPECT_TRUE(rl.Check(b, *ClientAddress::Parse("198.51.100.2"))->allowed);
}

TEST(RateLimiter, NetworkTierLimitsNeighbours) {
  RateLimiter rl(TestRedis());
  BucketLimits b{"n" + RandomAlnum(6), {100, 100}, {}, {1, 2}, {}};
  EXPECT_TRUE(rl.Check(b, *ClientAddress::Parse("203.0.113.1"))->allowed);
  EXPECT_TRUE(rl.Check(b, *ClientAddress::Parse("203.0.113.2"))->allowed);
  auto d = rl.Check(b, *ClientAddress::Parse("203.0.113.3"));
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->level, "ipv4_network");
}

TEST(RateLimiter, PenaltiesBanAddressAndNetworkUntilLifted) {
  RateLimiter rl(TestRedis());
  auto addr = *ClientAddress::Parse("192.0.2." + std::to_string(100 + RandomBytes(1)[0] % 100));
  auto neighbour = *ClientAddress::Parse("192.0.2.1");
  for (int i = 0; i < 19; ++i) ASSERT_THAT(rl.Penalize(addr, PenaltyReason::kAuthFailure), IsOk());
  EXPECT_FALSE(rl.BanRemaining(addr)->has_value());
  ASSERT_THAT(rl.Penalize(addr, PenaltyReason::kAuthFailure), IsOk());
  auto ban = rl.BanRemaining(addr);
  ASSERT_TRUE(ban->has_value());
  EXPECT_GT(**ban, 3500);
  EXPECT_TRUE(rl.BanRemaining(neighbour)->has_value());
  ASSERT_THAT(rl.LiftBan(addr), IsOk());
  EXPECT_FALSE(rl.BanRemaining(addr)->has_value());
}

TEST(RateLimiter, DefaultBucketsMatchReference) {
  BucketLimits auth = DefaultBucket("auth");
  EXPECT_EQ(auth.addr_short.per_second, 5);
  EXPECT_EQ(auth.addr_short.burst, 10);
  EXPECT_EQ(auth.net_long.burst, 200);
  EXPECT_EQ(DefaultBucket("nonsense").name, "general");
}

}  // namespace
}  // namespace cloudillo::cache
