#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "cloudillo/cache/redis.h"
#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"
#include "local_redis.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using namespace std::chrono_literals;
using namespace cloudillo::cache::testing;

RedisConfig Config(const std::string& addr) {
  RedisConfig c;
  c.addr = addr;
  return c;
}

// Records what a Subscriber delivers.
struct Inbox {
  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> resets{0};
  std::atomic<int> messages_before_first_reset{0};
  Subscriber::Handler OnMessage() {
    return [this](const std::string& ch, const std::string& msg) {
      if (resets == 0) ++messages_before_first_reset;
      std::lock_guard<std::mutex> l(mu);
      got.push_back(ch + "=" + msg);
    };
  }
  std::function<void()> OnReset() {
    return [this] { ++resets; };
  }
  bool Has(const std::string& entry) {
    std::lock_guard<std::mutex> l(mu);
    return std::find(got.begin(), got.end(), entry) != got.end();
  }
};

// Publishes until the subscriber has it: after a reconnect a message published before
// the SUBSCRIBE went through is lost by design (on_reset covers that).
bool DeliveredEventually(Redis& redis, Inbox& inbox, const std::string& channel, const std::string& msg) {
  return Eventually(
      [&] {
        if (inbox.Has(channel + "=" + msg)) return true;
        (void)redis.Publish(channel, msg);
        std::this_thread::sleep_for(20ms);
        return inbox.Has(channel + "=" + msg);
      },
      15s);
}

TEST(Subscriber, DeliversAfterResetOnTheSharedServer) {
  std::string addr = cloudillo::testing::GetTestEnv().redis_addr;
  std::string channel = "inval:" + RandomAlnum(6);
  Inbox inbox;
  Subscriber sub(Config(addr), {channel, channel + ":other"}, inbox.OnMessage(), inbox.OnReset());
  sub.Start();
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 5s));
  EXPECT_EQ(inbox.resets.load(), 1);
  auto redis = Redis::Create(Config(addr));
  ASSERT_THAT(redis->Publish(channel, "tenant:a"), IsOk());
  ASSERT_THAT(redis->Publish(channel + ":other", std::string("bin\0ary", 7)), IsOk());
  ASSERT_TRUE(Eventually([&] { return inbox.Has(channel + ":other=" + std::string("bin\0ary", 7)); }, 5s));
  sub.Stop();
  EXPECT_FALSE(sub.connected());
  std::lock_guard<std::mutex> l(inbox.mu);
  ASSERT_EQ(inbox.got.size(), 2u);
  EXPECT_EQ(inbox.got[0], channel + "=tenant:a");
  EXPECT_EQ(inbox.resets.load(), 1);
  EXPECT_EQ(inbox.messages_before_first_reset.load(), 0);
}

TEST(Subscriber, PatternsDeliverTheMatchingChannelBesideExactChannels) {
  std::string addr = cloudillo::testing::GetTestEnv().redis_addr;
  std::string prefix = "bus" + RandomAlnum(6);
  Inbox inbox;
  Subscriber::Options options;
  options.patterns = {prefix + ":*"};
  Subscriber sub(Config(addr), {prefix + "-exact"}, inbox.OnMessage(), inbox.OnReset(), options);
  sub.Start();
  // Connected only once both the SUBSCRIBE and the PSUBSCRIBE are confirmed.
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 5s));
  EXPECT_EQ(inbox.resets.load(), 1);
  auto redis = Redis::Create(Config(addr));
  ASSERT_THAT(redis->Publish(prefix + ":7", "seven"), IsOk());
  ASSERT_THAT(redis->Publish(prefix + "x:8", "not matched"), IsOk());
  ASSERT_THAT(redis->Publish(prefix + "-exact", "exact"), IsOk());
  ASSERT_THAT(redis->Publish(prefix + ":12", "twelve"), IsOk());
  ASSERT_TRUE(Eventually([&] { return inbox.Has(prefix + ":12=twelve"); }, 5s));
  sub.Stop();
  std::lock_guard<std::mutex> l(inbox.mu);
  EXPECT_EQ(inbox.got,
            (std::vector<std::string>{prefix + ":7=seven", prefix + "-exact=exact", prefix + ":12=twelve"}));
}

TEST(Subscriber, PatternsAloneAreEnough) {
  std::string addr = cloudillo::testing::GetTestEnv().redis_addr;
  std::string prefix = "bus" + RandomAlnum(6);
  Inbox inbox;
  Subscriber::Options options;
  options.patterns = {prefix + ":*"};
  Subscriber sub(Config(addr), {}, inbox.OnMessage(), inbox.OnReset(), options);
  sub.Start();
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 5s));
  auto redis = Redis::Create(Config(addr));
  EXPECT_TRUE(DeliveredEventually(*redis, inbox, prefix + ":1", "one"));
}

TEST(Subscriber, ResubscribesAndResetsAfterServerRestart) {
  TempDir dir;
  LocalRedis server(dir, "sub-restart", FreePort(), {});
  Inbox inbox;
  Subscriber sub(Config(server.addr()), {"c"}, inbox.OnMessage(), inbox.OnReset());
  sub.Start();
  auto redis = Redis::Create(Config(server.addr()));
  ASSERT_TRUE(DeliveredEventually(*redis, inbox, "c", "before"));
  EXPECT_EQ(inbox.resets.load(), 1);
  server.Kill();
  ASSERT_TRUE(Eventually([&] { return !sub.connected(); }, 5s));
  server.Restart();
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 10s));
  EXPECT_EQ(inbox.resets.load(), 2);
  EXPECT_TRUE(DeliveredEventually(*redis, inbox, "c", "after"));
}

TEST(Subscriber, KeepaliveNoticesASilentPeer) {
  TempDir dir;
  LocalRedis server(dir, "sub-silent", FreePort(), {});
  TcpProxy proxy(server.port());
  Inbox inbox;
  Subscriber::Options options;
  options.keepalive = absl::Milliseconds(100);
  options.keepalive_timeout = absl::Milliseconds(500);
  RedisConfig c = Config("127.0.0.1:" + std::to_string(proxy.port()));
  Subscriber sub(c, {"c"}, inbox.OnMessage(), inbox.OnReset(), options);
  sub.Start();
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 5s));
  // Several keepalive rounds pass without trouble.
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(sub.connected());
  EXPECT_EQ(inbox.resets.load(), 1);
  proxy.Freeze(true);  // the TCP connection stays open; nothing comes back
  ASSERT_TRUE(Eventually([&] { return !sub.connected(); }, 3s));
  proxy.Freeze(false);
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 10s));
  EXPECT_GE(inbox.resets.load(), 2);
  auto redis = Redis::Create(Config(server.addr()));
  EXPECT_TRUE(DeliveredEventually(*redis, inbox, "c", "back"));
}

TEST(Subscriber, StopWithoutStartAndWithoutServer) {
  Inbox inbox;
  { Subscriber idle(Config("127.0.0.1:1"), {"c"}, inbox.OnMessage(), inbox.OnReset()); }
  Subscriber failing(Config("127.0.0.1:1"), {"c"}, inbox.OnMessage(), inbox.OnReset());
  failing.Start();
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(failing.connected());
  failing.Stop();
  EXPECT_EQ(inbox.resets.load(), 0);
}

}  // namespace
}  // namespace cloudillo::cache
