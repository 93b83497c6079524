#include "cloudillo/cache/redis.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

RedisAddress TestAddr() { return *RedisAddress::Parse(cloudillo::testing::GetTestEnv().redis_addr); }

TEST(Redis, CommandsAndErrors) {
  auto redis = Redis::Create(TestAddr(), 2);
  ASSERT_THAT(redis->Ping(), IsOk());
  ASSERT_THAT(redis->Command({"SET", "k:bin", std::string("a\0b", 3)}), IsOk());
  auto r = redis->Command({"GET", "k:bin"});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->str, std::string("a\0b", 3));
  r = redis->Command({"GET", "k:missing"});
  EXPECT_EQ(r->type, Reply::Type::kNil);
  EXPECT_THAT(redis->Command({"NOSUCHCOMMAND"}), StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(redis->Ping(), IsOk());  // an error reply keeps the connection usable
}

TEST(Redis, UnreachableIsUnavailable) {
  RedisAddress a;
  a.port = 1;
  EXPECT_THAT(Redis::Create(a, 1)->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(RedisAddress::Parse("nohost"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RedisAddress::Parse("h:99999"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Subscriber, DeliversMessagesAndResetsOnConnect) {
  std::atomic<int> resets{0};
  std::mutex mu;
  std::vector<std::string> got;
  Subscriber sub(
      TestAddr(), {"inval"},
      [&](const std::string& ch, const std::string& msg) {
        std::lock_guard<std::mutex> l(mu);
        got.push_back(ch + "=" + msg);
      },
      [&] { ++resets; });
  sub.Start();
  auto redis = Redis::Create(TestAddr(), 1);
  for (int i = 0; i < 100 && !sub.connected(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(sub.connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_THAT(redis->Publish("inval", "tenant:a"), IsOk());
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (!got.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sub.Stop();
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "inval=tenant:a");
  EXPECT_EQ(resets.load(), 1);
}

}  // namespace
}  // namespace cloudillo::cache
