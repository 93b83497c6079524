#include "cloudillo/cache/usage.h"

#include <gtest/gtest.h>

#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"
#include "local_redis.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using testing::Eventually;

std::shared_ptr<Redis> TestRedis() {
  RedisConfig c;
  c.addr = cloudillo::testing::GetTestEnv().redis_addr;
  return Redis::Create(c);
}

// Tenant ids unique to this run: the test Redis is shared between runs.
int64_t FreshTenant() {
  uint32_t r = 0;
  RandomFill(&r, sizeof r);
  return int64_t(1) << 40 | int64_t(r) << 8;
}

TEST(Usage, KeysAreOneHashPerTenantAndUtcDay) {
  absl::Time t = absl::FromUnixSeconds(1764547199);  // 2025-11-30T23:59:59Z
  EXPECT_EQ(UsageDay(t), "2025-11-30");
  EXPECT_EQ(UsageKey(42, t), "usage:42:2025-11-30");
  EXPECT_EQ(UsageKey(42, t + absl::Seconds(1)), "usage:42:2025-12-01");
}

TEST(Usage, CountsAddUpAcrossRecordersPerTenantAndDay) {
  auto redis = TestRedis();
  FakeClock clock(absl::FromUnixSeconds(1764547190));  // ten seconds before midnight
  int64_t a = FreshTenant(), b = a + 1;
  UsageRecorder one(redis, clock), two(redis, clock);  // two replicas
  for (int i = 0; i < 5; ++i) one.Add(a, kUsageRequests);
  two.Add(a, kUsageRequests, 3);
  two.Add(a, kUsageFedOutBytes, 1200);
  one.Add(b, kUsageFedIn);
  clock.Advance(absl::Seconds(20));  // the next day
  one.Add(a, kUsageRequests, 7);
  one.Flush();
  two.Flush();
  auto read = [&](int64_t tn) { return ReadUsage(*redis, tn, clock.Now(), 3); };
  ASSERT_TRUE(Eventually(
      [&] {
        auto u = read(a);
        return u.ok() && (*u)[0].requests == 7 && (*u)[1].requests == 8 && (*u)[1].fed_out_bytes == 1200;
      },
      std::chrono::seconds(5)));
  auto ua = read(a);
  ASSERT_THAT(ua, IsOk());
  ASSERT_EQ(ua->size(), 3u);
  EXPECT_EQ((*ua)[0].day, "2025-12-01");
  EXPECT_EQ((*ua)[1].day, "2025-11-30");
  EXPECT_EQ((*ua)[1].fed_in, 0);  // b's count stays b's
  EXPECT_EQ((*ua)[2].requests, 0);
  auto ub = read(b);
  ASSERT_THAT(ub, IsOk());
  EXPECT_EQ((*ub)[1].fed_in, 1);
  EXPECT_EQ((*ub)[1].requests, 0);
  EXPECT_EQ((*ub)[0].fed_in, 0);
  // Counters expire.
  auto ttl = redis->Command({"TTL", UsageKey(a, clock.Now())});
  ASSERT_THAT(ttl, IsOk());
  EXPECT_GT(ttl->integer, 80 * 86400);
  EXPECT_LE(ttl->integer, kUsageKeepDays * 86400);
}

TEST(Usage, BoundedTableFlushesItselfAndStopFlushes) {
  auto redis = TestRedis();
  FakeClock clock(absl::Now());
  int64_t first = FreshTenant();
  UsageRecorder::Options o;
  o.flush_interval = absl::Hours(1);  // only the bound and Stop() flush here
  o.max_pending = 10;
  o.max_batch = 4;
  {
    UsageRecorder r(redis, clock, o);
    r.Start();
    for (int i = 0; i < 25; ++i) r.Add(first + i, kUsageRequests, i + 1);
    // The first 20 tenants went out in two forced flushes, without waiting for the interval.
    ASSERT_TRUE(Eventually(
        [&] {
          auto u = ReadUsage(*redis, first + 19, clock.Now(), 1);
          return u.ok() && (*u)[0].requests == 20;
        },
        std::chrono::seconds(5)));
    auto late = ReadUsage(*redis, first + 24, clock.Now(), 1);
    ASSERT_THAT(late, IsOk());
    EXPECT_EQ((*late)[0].requests, 0);
  }
  ASSERT_TRUE(Eventually(
      [&] {
        auto u = ReadUsage(*redis, first + 24, clock.Now(), 1);
        return u.ok() && (*u)[0].requests == 25;
      },
      std::chrono::seconds(5)));
}

TEST(Usage, WithoutRedisCountsAreDropped) {
  FakeClock clock(absl::Now());
  UsageRecorder r(nullptr, clock);
  r.Add(1, kUsageRequests);
  r.Flush();  // nothing to crash on
}

}  // namespace
}  // namespace cloudillo::cache
