#include <gtest/gtest.h>

#include "cloudillo/cache/redis.h"
#include "cloudillo/testing/status_matchers.h"
#include "local_redis.h"

namespace cloudillo::cache {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<RedisConfig> Load(std::map<std::string, std::string> env) {
  ConfigSource src(std::move(env));
  auto c = RedisConfig::Load(src);
  if (c.ok()) {
    if (absl::Status st = src.Finish(); !st.ok()) return st;
  }
  return c;
}

TEST(RedisConfig, DefaultsAndEveryVariable) {
  auto d = Load({});
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->addr, "127.0.0.1:6379");
  EXPECT_FALSE(d->tls);
  EXPECT_TRUE(d->sentinels.empty());

  testing::TempDir dir;
  dir.Write("ca.pem", "x");
  dir.Write("cert.pem", "x");
  dir.Write("key.pem", "x");
  dir.Write("pw", "from-file\n");
  auto c = Load({{"CLOUDILLO_REDIS_USERNAME", "app"},
                 {"CLOUDILLO_REDIS_PASSWORD_FILE", dir.File("pw")},
                 {"CLOUDILLO_REDIS_DB", "2"},
                 {"CLOUDILLO_REDIS_TLS", "true"},
                 {"CLOUDILLO_REDIS_TLS_CA", dir.File("ca.pem")},
                 {"CLOUDILLO_REDIS_TLS_CERT", dir.File("cert.pem")},
                 {"CLOUDILLO_REDIS_TLS_KEY", dir.File("key.pem")},
                 {"CLOUDILLO_REDIS_TLS_SERVER_NAME", "redis.internal"},
                 {"CLOUDILLO_REDIS_SENTINELS", "10.0.0.1:26379, [fd00::2]:26379"},
                 {"CLOUDILLO_REDIS_MASTER_NAME", "main"},
                 {"CLOUDILLO_REDIS_SENTINEL_USERNAME", "watcher"},
                 {"CLOUDILLO_REDIS_SENTINEL_PASSWORD", "s3"}});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->username, "app");
  EXPECT_EQ(c->password, "from-file");
  EXPECT_EQ(c->db, 2);
  EXPECT_TRUE(c->tls);
  EXPECT_EQ(c->tls_server_name, "redis.internal");
  ASSERT_EQ(c->sentinels.size(), 2u);
  EXPECT_EQ(c->sentinels[1], "[fd00::2]:26379");
  EXPECT_EQ(c->master_name, "main");
  EXPECT_EQ(c->sentinel_password, "s3");
}

TEST(RedisConfig, BadCombinationsAreNamed) {
  auto expect_problem = [](std::map<std::string, std::string> env, const std::string& needle) {
    auto c = Load(std::move(env));
    EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument)) << needle;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(needle));
  };
  expect_problem({{"CLOUDILLO_REDIS_ADDR", "nohost"}}, "CLOUDILLO_REDIS_ADDR");
  expect_problem({{"CLOUDILLO_REDIS_ADDR", "h:99999"}}, "CLOUDILLO_REDIS_ADDR");
  expect_problem({{"CLOUDILLO_REDIS_SENTINELS", "10.0.0.1:26379"}}, "needs CLOUDILLO_REDIS_MASTER_NAME");
  expect_problem({{"CLOUDILLO_REDIS_SENTINELS", "10.0.0.1"}, {"CLOUDILLO_REDIS_MASTER_NAME", "m"}},
                 "CLOUDILLO_REDIS_SENTINELS");
  expect_problem({{"CLOUDILLO_REDIS_MASTER_NAME", "m"}}, "needs CLOUDILLO_REDIS_SENTINELS");
  expect_problem({{"CLOUDILLO_REDIS_TLS", "true"}, {"CLOUDILLO_REDIS_TLS_CERT", "/etc/hostname"}},
                 "go together");
  expect_problem({{"CLOUDILLO_REDIS_TLS_CA", "/etc/hostname"}}, "CLOUDILLO_REDIS_TLS is false");
  expect_problem({{"CLOUDILLO_REDIS_TLS", "true"}, {"CLOUDILLO_REDIS_TLS_CA", "/nonexistent/ca.pem"}},
                 "cannot be read");
  expect_problem({{"CLOUDILLO_REDIS_USERNAME", "u"}}, "needs CLOUDILLO_REDIS_PASSWORD");
}

TEST(RedisConfig, PasswordFlagIsRefusedWithoutEchoingIt) {
  std::string a0 = "bin", a1 = "--redis-password=hunter2";
  char* argv[] = {a0.data(), a1.data()};
  ConfigSource src = ConfigSource::FromProcess(2, argv);
  auto c = RedisConfig::Load(src);
  absl::Status st = src.Finish();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(st.message()), HasSubstr("CLOUDILLO_REDIS_PASSWORD is a secret"));
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("hunter2")));
  EXPECT_THAT(src.HelpText(), HasSubstr("CLOUDILLO_REDIS_PASSWORD (secret"));
}

TEST(RedisAddress, ParsesHostPortAndBracketedV6) {
  auto a = RedisAddress::Parse("[::1]:6380");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->ToString(), "[::1]:6380");
  EXPECT_THAT(RedisAddress::Parse("::1:6380"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RedisAddress::Parse(":6380"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(RedisAddress::Parse("redis.svc:6379")->host, "redis.svc");
}

}  // namespace
}  // namespace cloudillo::cache
