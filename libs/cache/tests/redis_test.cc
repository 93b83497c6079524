#include "cloudillo/cache/redis.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"
#include "local_redis.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
using namespace cloudillo::cache::testing;

RedisConfig TestConfig() {
  RedisConfig c;
  c.addr = cloudillo::testing::GetTestEnv().redis_addr;
  return c;
}

RedisConfig LocalConfig(int port) {
  RedisConfig c;
  c.addr = "127.0.0.1:" + std::to_string(port);
  return c;
}

// The result of one CommandAsync, waited for by the test.
struct Outcome {
  std::mutex mu;
  bool done = false;
  absl::StatusOr<Reply> result = absl::UnknownError("pending");
  std::thread::id thread;
  void Set(absl::StatusOr<Reply> r) {
    std::lock_guard<std::mutex> l(mu);
    result = std::move(r);
    thread = std::this_thread::get_id();
    done = true;
  }
  bool Done() {
    std::lock_guard<std::mutex> l(mu);
    return done;
  }
};

TEST(Redis, RepliesOfEveryTypeAndBinarySafeArguments) {
  auto redis = Redis::Create(TestConfig());
  std::string key = "k:" + RandomAlnum(8);
  std::string binary("a\0b\r\n$3\r\n", 10);
  auto set = redis->Command({"SET", key, binary});
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");
  auto got = redis->Command({"GET", key});
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->type, Reply::Type::kString);
  EXPECT_EQ(got->str, binary);
  EXPECT_EQ(redis->Command({"GET", key + ":missing"})->type, Reply::Type::kNil);
  auto n = redis->Command({"INCRBY", key + ":n", "-42"});
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->type, Reply::Type::kInteger);
  EXPECT_EQ(n->integer, -42);
  auto nested = redis->Command({"EVAL", "return {1, {'x', false}, 'y'}", "0"});
  ASSERT_THAT(nested, IsOk());
  ASSERT_EQ(nested->type, Reply::Type::kArray);
  ASSERT_EQ(nested->elements.size(), 3u);
  EXPECT_EQ(nested->elements[0].integer, 1);
  ASSERT_EQ(nested->elements[1].elements.size(), 2u);
  EXPECT_EQ(nested->elements[1].elements[0].str, "x");
  EXPECT_EQ(nested->elements[1].elements[1].type, Reply::Type::kNil);
  EXPECT_EQ(nested->elements[2].str, "y");
  EXPECT_THAT(redis->Command({"DEL", key, key + ":n"}), IsOk());
}

TEST(Redis, ErrorReplyIsInternalAndKeepsTheConnection) {
  auto redis = Redis::Create(TestConfig());
  auto id = redis->Command({"CLIENT", "ID"});
  ASSERT_THAT(id, IsOk());
  auto bad = redis->Command({"NOSUCHCOMMAND", "x"});
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("unknown command"));
  EXPECT_THAT(redis->Command({"INCR", "not-a-number-" + RandomAlnum(4), "extra"}),
              StatusIs(absl::StatusCode::kInternal));
  auto again = redis->Command({"CLIENT", "ID"});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->integer, id->integer);  // the same connection
  EXPECT_TRUE(redis->connected());
}

TEST(Redis, ConcurrentAsyncCommandsAnswerInOrderOnTheClientThread) {
  auto redis = Redis::Create(TestConfig());
  constexpr int kThreads = 4, kPerThread = 250;
  std::string prefix = "order:" + RandomAlnum(8) + ":";
  std::mutex mu;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::atomic<int> answered{0}, inline_calls{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto me = std::this_thread::get_id();
      for (int i = 0; i < kPerThread; ++i) {
        redis->CommandAsync({"INCR", prefix + std::to_string(t)}, [&, t, me](absl::StatusOr<Reply> r) {
          if (std::this_thread::get_id() == me) ++inline_calls;
          if (!r.ok()) {
            ++errors;
          } else {
            std::lock_guard<std::mutex> l(mu);
            seen[t].push_back(r->integer);
          }
          ++answered;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(Eventually([&] { return answered == kThreads * kPerThread; }, 10s));
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(inline_calls.load(), 0);
  std::lock_guard<std::mutex> l(mu);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), size_t(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i + 1) << "thread " << t;
  }
}

TEST(Redis, BlockingCallInsideACallbackIsRefused) {
  auto redis = Redis::Create(TestConfig());
  Outcome inner;
  redis->CommandAsync({"PING"}, [&](absl::StatusOr<Reply>) { inner.Set(redis->Command({"PING"})); });
  ASSERT_TRUE(Eventually([&] { return inner.Done(); }, 5s));
  EXPECT_THAT(inner.result, StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(Redis, ThrowingCallbackDoesNotStopTheClient) {
  auto redis = Redis::Create(TestConfig());
  Outcome after;
  redis->CommandAsync({"PING"}, [](absl::StatusOr<Reply>) { throw std::runtime_error("caller bug"); });
  redis->CommandAsync({"PING"}, [&](absl::StatusOr<Reply> r) { after.Set(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return after.Done(); }, 5s));
  EXPECT_THAT(after.result, IsOk());
  EXPECT_THAT(redis->Ping(), IsOk());
}

TEST(Redis, SilentServerTimesOutAndMaxPendingRefusesAtOnce) {
  TempDir dir;
  LocalRedis server(dir, "silent", FreePort(), {});
  TcpProxy proxy(server.port());
  RedisConfig c = LocalConfig(proxy.port());
  c.command_timeout = absl::Seconds(1);
  c.max_pending = 5;
  auto redis = Redis::Create(c);
  ASSERT_THAT(redis->Ping(), IsOk());
  proxy.Freeze(true);
  std::vector<std::unique_ptr<Outcome>> stuck;
  for (int i = 0; i < 5; ++i) {
    stuck.push_back(std::make_unique<Outcome>());
    redis->CommandAsync({"PING"},
                        [o = stuck.back().get()](absl::StatusOr<Reply> r) { o->Set(std::move(r)); });
  }
  auto start = std::chrono::steady_clock::now();
  auto refused = redis->Command({"PING"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);  // not after the 1 s timeout
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("pending"));
  ASSERT_TRUE(Eventually([&] { return stuck.back()->Done(); }, 3s));
  for (auto& o : stuck) {
    ASSERT_TRUE(o->Done());
    EXPECT_THAT(o->result, StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_THAT(std::string(o->result.status().message()), HasSubstr("no reply"));
  }
  proxy.Freeze(false);
  EXPECT_TRUE(Eventually([&] { return redis->Ping().ok(); }, 10s));
}

TEST(Redis, CommandsWaitForAConnectionAtMostConnectTimeout) {
  TempDir dir;
  LocalRedis server(dir, "mute", FreePort(), {});
  TcpProxy proxy(server.port());
  proxy.Freeze(true);  // accepts TCP, never answers: the login hangs
  RedisConfig c = LocalConfig(proxy.port());
  c.connect_timeout = absl::Milliseconds(300);
  c.command_timeout = absl::Seconds(5);
  auto redis = Redis::Create(c);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(redis->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2s);
  // The attempt ended with the wait (not a command_timeout later): now in backoff.
  ASSERT_TRUE(Eventually(
      [&] {
        auto t = std::chrono::steady_clock::now();
        return !redis->Ping().ok() && std::chrono::steady_clock::now() - t < 50ms;
      },
      2s));
  proxy.Freeze(false);
  EXPECT_TRUE(Eventually([&] { return redis->Ping().ok(); }, 10s));
}

TEST(Redis, UnreachableServerFailsFastOnceInBackoff) {
  RedisConfig c = LocalConfig(FreePort());  // nothing listens there
  auto redis = Redis::Create(c);
  auto first = redis->Ping();
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(first.message()), HasSubstr(c.addr));
  EXPECT_FALSE(redis->connected());
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_THAT(redis->Ping(), StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 200ms);
  }
  EXPECT_THAT(Redis::Create(LocalConfig(1))->Command({"GET", "x"}), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(Redis, ReconnectsByItselfAfterServerRestart) {
  TempDir dir;
  LocalRedis server(dir, "restart", FreePort(), {});
  auto redis = Redis::Create(LocalConfig(server.port()));
  ASSERT_THAT(redis->Command({"SET", "k", "v"}), IsOk());
  ASSERT_TRUE(redis->connected());
  server.Kill();
  EXPECT_TRUE(Eventually([&] { return !redis->connected(); }, 5s));
  EXPECT_THAT(redis->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  server.Restart();
  // Without any command from us: the client reconnects on its own.
  EXPECT_TRUE(Eventually([&] { return redis->connected(); }, 10s));
  EXPECT_THAT(redis->Command({"SET", "k", "again"}), IsOk());
}

TEST(Redis, SelectsTheConfiguredDatabase) {
  RedisConfig c = TestConfig();
  c.db = 3;
  auto db3 = Redis::Create(c);
  auto db0 = Redis::Create(TestConfig());
  std::string key = "db:" + RandomAlnum(8);
  ASSERT_THAT(db3->Command({"SET", key, "x"}), IsOk());
  EXPECT_EQ(db0->Command({"EXISTS", key})->integer, 0);
  EXPECT_EQ(db3->Command({"EXISTS", key})->integer, 1);
  EXPECT_THAT(db3->Command({"DEL", key}), IsOk());
}

int64_t CommandCalls(Redis& redis, const std::string& command) {
  auto info = redis.Command({"INFO", "commandstats"});
  std::string text = info.ok() ? info->str : "";
  size_t at = text.find("cmdstat_" + command + ":calls=");
  if (at == std::string::npos) return 0;
  return std::stoll(text.substr(at + command.size() + 15));
}

TEST(Redis, ScriptUsesEvalshaAndFallsBackOnNoscript) {
  TempDir dir;
  LocalRedis server(dir, "script", FreePort(), {});
  auto redis = Redis::Create(LocalConfig(server.port()));
  const std::string script = "return ARGV[1] .. ':' .. KEYS[1]";
  auto run = [&]() {
    Outcome o;
    redis->ScriptAsync(script, {"key"}, {"arg"}, [&](absl::StatusOr<Reply> r) { o.Set(std::move(r)); });
    EXPECT_TRUE(Eventually([&] { return o.Done(); }, 5s));
    std::lock_guard<std::mutex> l(o.mu);
    return o.result;
  };
  auto first = run();
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->str, "arg:key");
  EXPECT_THAT(run(), IsOk());
  EXPECT_EQ(CommandCalls(*redis, "eval"), 1);
  EXPECT_EQ(CommandCalls(*redis, "evalsha"), 1);
  ASSERT_THAT(redis->Command({"SCRIPT", "FLUSH"}), IsOk());
  auto after_flush = run();
  ASSERT_THAT(after_flush, IsOk());
  EXPECT_EQ(after_flush->str, "arg:key");
  EXPECT_EQ(CommandCalls(*redis, "evalsha"), 2);  // answered NOSCRIPT
  EXPECT_EQ(CommandCalls(*redis, "eval"), 2);     // the fallback
  Outcome broken;
  redis->ScriptAsync("this is not lua", {}, {}, [&](absl::StatusOr<Reply> r) { broken.Set(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return broken.Done(); }, 5s));
  EXPECT_THAT(broken.result, StatusIs(absl::StatusCode::kInternal));
}

TEST(Redis, PublishManyKeepsItsOrderAndReportsARefusal) {
  std::string channel = "pm:" + RandomAlnum(8);
  std::mutex mu;
  std::vector<std::string> got;
  Subscriber sub(
      TestConfig(), {channel},
      [&](const std::string&, const std::string& m) {
        std::lock_guard<std::mutex> l(mu);
        got.push_back(m);
      },
      [] {});
  sub.Start();
  ASSERT_TRUE(Eventually([&] { return sub.connected(); }, 5s));
  auto redis = Redis::Create(TestConfig());
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<std::string> expected;
  for (int i = 0; i < 100; ++i) {
    messages.emplace_back(channel, std::to_string(i));
    expected.push_back(std::to_string(i));
  }
  EXPECT_THAT(redis->PublishMany(messages), IsOk());
  EXPECT_THAT(redis->PublishMany({}), IsOk());
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return got.size() >= expected.size();
      },
      5s));
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(got, expected);
  }
  // More than max_pending at once: some are refused, and the call says so.
  RedisConfig small = TestConfig();
  small.max_pending = 5;
  auto limited = Redis::Create(small);
  ASSERT_THAT(limited->Ping(), IsOk());
  EXPECT_THAT(limited->PublishMany(messages), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace cloudillo::cache
