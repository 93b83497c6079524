// Sentinel: a master, a replica and one sentinel (with requirepass) as private
// processes; SENTINEL FAILOVER; the client and a subscriber follow to the new master.
#include <gtest/gtest.h>

#include <mutex>

#include "cloudillo/cache/redis.h"
#include "cloudillo/testing/status_matchers.h"
#include "local_redis.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;
using namespace std::chrono_literals;
using namespace cloudillo::cache::testing;

RedisConfig Direct(const std::string& addr, const std::string& password = "") {
  RedisConfig c;
  c.addr = addr;
  c.password = password;
  return c;
}

std::string PortOf(Redis& redis) {
  auto r = redis.Command({"CONFIG", "GET", "port"});
  return r.ok() && r->elements.size() == 2 ? r->elements[1].str : "";
}

TEST(Sentinel, ClientAndSubscriberFollowAFailover) {
  TempDir dir;
  LocalRedis master(dir, "master", FreePort(), {});
  LocalRedis replica(dir, "replica", FreePort(), {"--replicaof", "127.0.0.1", std::to_string(master.port())});
  int sentinel_port = FreePort();
  LocalRedis sentinel(dir, "sentinel", sentinel_port, {},
                      "sentinel monitor mymaster 127.0.0.1 " + std::to_string(master.port()) +
                          " 1\n"
                          "sentinel down-after-milliseconds mymaster 2000\n"
                          "sentinel failover-timeout mymaster 10000\n"
                          "requirepass sentinel-secret\n",
                      /*sentinel=*/true);

  RedisConfig c;
  c.sentinels = {"127.0.0.1:" + std::to_string(FreePort()), sentinel.addr()};  // the first is down
  c.master_name = "mymaster";
  c.sentinel_password = "sentinel-secret";
  ASSERT_THAT(c.Validate(), IsOk());
  auto redis = Redis::Create(c);
  ASSERT_THAT(redis->Command({"SET", "k", "1"}), IsOk());
  EXPECT_EQ(PortOf(*redis), std::to_string(master.port()));

  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> resets{0};
  Subscriber sub(
      c, {"events"},
      [&](const std::string&, const std::string& msg) {
        std::lock_guard<std::mutex> l(mu);
        got.push_back(msg);
      },
      [&] { ++resets; });
  sub.Start();
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 5s));
  auto delivered = [&](const std::string& msg) {
    return Eventually(
        [&] {
          (void)redis->Publish("events", msg);
          std::this_thread::sleep_for(20ms);
          std::lock_guard<std::mutex> l(mu);
          return std::find(got.begin(), got.end(), msg) != got.end();
        },
        30s);
  };
  ASSERT_TRUE(delivered("before"));

  // A wrong sentinel password is a clear error, not a hang.
  RedisConfig wrong = c;
  wrong.sentinel_password = "nope";
  auto refused = Redis::Create(wrong)->Ping();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_NE(std::string(refused.message()).find("WRONGPASS"), std::string::npos) << refused;

  auto admin = Redis::Create(Direct(sentinel.addr(), "sentinel-secret"));
  // The sentinel must have seen the replica in sync before it agrees to fail over.
  bool started = Eventually(
      [&] {
        auto r = admin->Command({"SENTINEL", "FAILOVER", "mymaster"});
        return r.ok();
      },
      30s);
  ASSERT_TRUE(started) << sentinel.Log();
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = admin->Command({"SENTINEL", "get-master-addr-by-name", "mymaster"});
        return r.ok() && r->elements.size() == 2 && r->elements[1].str == std::to_string(replica.port());
      },
      30s));

  // The old master is demoted by the sentinel, which drops its clients; ours re-resolve.
  ASSERT_TRUE(Eventually(
      [&] {
        return PortOf(*redis) == std::to_string(replica.port()) && redis->Command({"SET", "k", "2"}).ok();
      },
      60s))
      << sentinel.Log();
  auto on_new = Redis::Create(Direct(replica.addr()));
  EXPECT_EQ(on_new->Command({"GET", "k"})->str, "2");
  ASSERT_TRUE(Eventually(
      [&] {
        auto n = on_new->Command({"PUBSUB", "NUMSUB", "events"});
        return n.ok() && n->elements.size() == 2 && n->elements[1].integer == 1;
      },
      30s));
  EXPECT_TRUE(delivered("after"));
  EXPECT_GE(resets.load(), 2);
  sub.Stop();
}

}  // namespace
}  // namespace cloudillo::cache
