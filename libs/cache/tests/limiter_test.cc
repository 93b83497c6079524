#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cloudillo/cache/ban_list.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/cache/local_limiter.h"
#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"
#include "local_redis.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;
using testing::Eventually;

std::shared_ptr<Redis> TestRedis() {
  RedisConfig c;
  c.addr = cloudillo::testing::GetTestEnv().redis_addr;
  return Redis::Create(c);
}

ClientAddress Addr(const std::string& ip) { return *ClientAddress::Parse(ip); }

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

TEST(LocalLimiter, BurstThenLimitedWithLevel) {
  LocalLimiter rl(nullptr, {});
  BucketLimits b{"t", {1, 3}, {}, {}, {}};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.CheckBucket(b, Addr("198.51.100.1")).allowed) << i;
  Decision d = rl.CheckBucket(b, Addr("198.51.100.1"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.level, "ipv4_individual");
  EXPECT_LE(d.retry_after_secs, 1);
  // A neighbour on the same /24 has its own individual cell.
  EXPECT_TRUE(rl.CheckBucket(b, Addr("198.51.100.2")).allowed);
}

TEST(LocalLimiter, NetworkTierLimitsNeighboursAndARefusalChargesNothing) {
  LocalLimiter rl(nullptr, {});
  BucketLimits b{"n", {100, 100}, {}, {1, 2}, {}};
  EXPECT_TRUE(rl.CheckBucket(b, Addr("203.0.113.1")).allowed);
  EXPECT_TRUE(rl.CheckBucket(b, Addr("203.0.113.2")).allowed);
  Decision d = rl.CheckBucket(b, Addr("203.0.113.3"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.level, "ipv4_network");
  // The refused request charged no cell: with the network tier lifted, the address's
  // own single token is still there.
  BucketLimits own{"n", {1, 1}, {}, {}, {}};
  EXPECT_TRUE(rl.CheckBucket(own, Addr("203.0.113.3")).allowed);
}

TEST(LocalLimiter, MemoryIsBoundedUnderAFloodOfAddresses) {
  LocalLimiter rl(nullptr, {1000, absl::Milliseconds(20), 100});
  BucketLimits b{"f", {1, 1}, {}, {}, {}};
  EXPECT_TRUE(rl.CheckBucket(b, Addr("10.0.0.0")).allowed);
  EXPECT_FALSE(rl.CheckBucket(b, Addr("10.0.0.0")).allowed);
  for (int i = 1; i < 100000; ++i) {
    rl.CheckBucket(b, Addr("10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                           std::to_string(i % 256)));
  }
  // The flood evicted old cells (the capacity holds): the first address starts afresh.
  EXPECT_TRUE(rl.CheckBucket(b, Addr("10.0.0.0")).allowed);
}

TEST(LocalLimiter, ReplicasShareOneBudgetThroughRedis) {
  auto redis = TestRedis();
  LocalLimiter a(redis, {}), b(redis, {});
  std::string key = "share-" + RandomAlnum(8);
  Tier tier{1, 10};
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += a.CheckKey(key, tier, "tenant").allowed;
  EXPECT_EQ(allowed, 10);
  a.SyncNow();
  // Replica b learns of a's spending at its next reconciliation.
  EXPECT_TRUE(b.CheckKey(key, tier, "tenant").allowed);  // b's first sight: the documented slack
  ASSERT_TRUE(Eventually(
      [&] {
        b.SyncNow();
        return !b.CheckKey(key, tier, "tenant").allowed;
      },
      std::chrono::milliseconds(2000)));
}

// A few units against a large burst wait for the end of the round; a sixteenth of the
// burst is reported at the next batch. Either way every unit reaches Redis.
TEST(LocalLimiter, SmallSpendingIsReportedAtTheRoundsEnd) {
  auto redis = TestRedis();
  LocalLimiter rl(redis, {.lazy_interval = absl::Milliseconds(1500)});
  rl.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the first round has begun
  const std::string lazy = "lazy-" + RandomAlnum(8), urgent = "urgent-" + RandomAlnum(8);
  const Tier tier{1, 1600};  // a sixteenth: 100 units
  auto stored = [&](const std::string& key) {
    auto r = redis->Command({"EXISTS", "rl:key:" + key});
    return r.ok() && r->integer == 1;
  };
  for (int i = 0; i < 99; ++i) ASSERT_TRUE(rl.CheckKey(lazy, tier, "tenant").allowed);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(rl.CheckKey(urgent, tier, "tenant").allowed);
  EXPECT_TRUE(Eventually([&] { return stored(urgent); }, std::chrono::milliseconds(500)));
  EXPECT_FALSE(stored(lazy));
  EXPECT_TRUE(Eventually([&] { return stored(lazy); }, std::chrono::milliseconds(3000)));
  auto pttl = redis->Command({"PTTL", "rl:key:" + lazy});
  ASSERT_THAT(pttl, IsOk());
  EXPECT_GT(pttl->integer, 98 * 1000);  // 99 units of one second each, less the time since
  rl.Stop();
}

TEST(LocalLimiter, WithoutRedisLimitsStillHoldPerReplica) {
  RedisConfig c;
  c.addr = "127.0.0.1:1";
  LocalLimiter rl(Redis::Create(c), {});
  rl.Start();
  Tier tier{1, 2};
  EXPECT_TRUE(rl.CheckKey("k", tier, "tenant").allowed);
  EXPECT_TRUE(rl.CheckKey("k", tier, "tenant").allowed);
  rl.SyncNow();
  EXPECT_FALSE(rl.CheckKey("k", tier, "tenant").allowed);
  rl.Stop();
}

// A limit far above the load refuses nothing, however many threads race for one cell
// while batches reconcile it (a rate above 10^6/s once rounded the interval to zero,
// and a thread that read the clock before another moved the cell was refused).
TEST(LocalLimiter, ALimitFarAboveTheLoadRefusesNothingUnderContention) {
  LocalLimiter rl(TestRedis(), {});
  rl.Start();
  const std::string key = "high-" + cloudillo::RandomAlnum(8);
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) {
        if (!rl.CheckKey(key, Tier{1e8, 100000000}, "tenant").allowed) refused++;
      }
    });
  }
  for (auto& t : threads) t.join();
  rl.Stop();
  EXPECT_EQ(refused.load(), 0);
}

TEST(BanList, PenaltiesBanAndThePublishedEventReachesTheList) {
  auto redis = TestRedis();
  std::string net = "192.0." + std::to_string(1 + static_cast<unsigned char>(RandomBytes(1)[0]) % 200);
  auto addr = Addr(net + ".7");
  ASSERT_THAT(LiftBan(*redis, addr), IsOk());
  BanList bans(redis, 100);
  std::atomic<int> ready{0};
  EXPECT_EQ(bans.Check(addr, [&] { ++ready; }).kind, BanList::State::kUnknown);
  ASSERT_TRUE(Eventually([&] { return ready == 1; }, std::chrono::milliseconds(2000)));
  EXPECT_EQ(bans.Check(addr, nullptr).kind, BanList::State::kClear);
  for (int i = 0; i < 3; ++i)
    ASSERT_THAT(Penalize(*redis, addr, PenaltyReason::kTokenVerificationFailure), IsOk());
  // Cached as clear until told otherwise; the published invalidation is what tells it.
  EXPECT_EQ(bans.Check(addr, nullptr).kind, BanList::State::kClear);
  bans.OnInvalidation(BanInvalidation(addr.individual));
  EXPECT_EQ(bans.Check(addr, [&] { ++ready; }).kind, BanList::State::kUnknown);
  ASSERT_TRUE(Eventually([&] { return ready == 2; }, std::chrono::milliseconds(2000)));
  BanList::State s = bans.Check(addr, nullptr);
  EXPECT_EQ(s.kind, BanList::State::kBanned);
  EXPECT_GT(s.remaining_secs, 3500);
  // The network is banned too: a neighbour is refused.
  auto neighbour = Addr(net + ".250");
  bans.Check(neighbour, [&] { ++ready; });
  ASSERT_TRUE(Eventually([&] { return ready == 3; }, std::chrono::milliseconds(2000)));
  EXPECT_EQ(bans.Check(neighbour, nullptr).kind, BanList::State::kBanned);
  ASSERT_THAT(LiftBan(*redis, addr), IsOk());
  bans.OnInvalidation(BanInvalidation(addr.network));
  bans.Check(neighbour, [&] { ++ready; });
  ASSERT_TRUE(Eventually([&] { return ready == 4; }, std::chrono::milliseconds(2000)));
  EXPECT_EQ(bans.Check(neighbour, nullptr).kind, BanList::State::kClear);
}

TEST(BanList, UnreachableRedisFailsOpen) {
  RedisConfig c;
  c.addr = "127.0.0.1:1";
  BanList bans(Redis::Create(c), 100);
  std::atomic<bool> ready{false};
  auto addr = Addr("198.51.100.9");
  bans.Check(addr, [&] { ready = true; });
  ASSERT_TRUE(Eventually([&] { return ready.load(); }, std::chrono::milliseconds(5000)));
  EXPECT_EQ(bans.Check(addr, nullptr).kind, BanList::State::kClear);
}

}  // namespace
}  // namespace cloudillo::cache
