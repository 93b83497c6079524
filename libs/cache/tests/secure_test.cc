// AUTH (requirepass and ACL users) and TLS against private redis-server processes.
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
using namespace cloudillo::cache::testing;

RedisConfig LocalConfig(int port) {
  RedisConfig c;
  c.addr = "127.0.0.1:" + std::to_string(port);
  c.connect_timeout = absl::Seconds(1);
  return c;
}

TEST(RedisAuth, PasswordAclUserAndClearRefusals) {
  TempDir dir;
  LocalRedis server(
      dir, "auth", FreePort(),
      {"--requirepass", "default-secret", "--user", "alice", "on", ">alice-secret", "~*", "&*", "+@all"});
  RedisConfig c = LocalConfig(server.port());
  c.password = "default-secret";
  auto by_password = Redis::Create(c);
  auto who = by_password->Command({"ACL", "WHOAMI"});
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->str, "default");

  c.username = "alice";
  c.password = "alice-secret";
  who = Redis::Create(c)->Command({"ACL", "WHOAMI"});
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->str, "alice");

  c.password = "wrong-secret";
  auto wrong = Redis::Create(c)->Ping();
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(wrong.message()), HasSubstr("refused AUTH"));
  EXPECT_THAT(std::string(wrong.message()), HasSubstr("WRONGPASS"));
  EXPECT_THAT(std::string(wrong.message()), Not(HasSubstr("wrong-secret")));

  auto none = Redis::Create(LocalConfig(server.port()))->Ping();
  EXPECT_THAT(none, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(none.message()), HasSubstr("NOAUTH"));
}

class RedisTls : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCertificates(dir_, "");
    MakeCertificates(dir_, "other-");
    server_ = std::make_unique<LocalRedis>(
        dir_, "tls", FreePort(),
        std::vector<std::string>{"--tls-cert-file", dir_.File("server.crt"), "--tls-key-file",
                                 dir_.File("server.key"), "--tls-ca-cert-file", dir_.File("ca.crt")},
        "", false, /*tls_port=*/true);
  }
  RedisConfig Config() {
    RedisConfig c = LocalConfig(server_->port());
    c.tls = true;
    c.tls_ca_file = dir_.File("ca.crt");
    c.tls_cert_file = dir_.File("client.crt");
    c.tls_key_file = dir_.File("client.key");
    return c;
  }
  TempDir dir_;
  std::unique_ptr<LocalRedis> server_;
};

TEST_F(RedisTls, MutualTlsWithOurCa) {
  RedisConfig c = Config();
  ASSERT_THAT(c.Validate(), IsOk());
  auto redis = Redis::Create(c);
  ASSERT_THAT(redis->Command({"SET", "tls", std::string(100000, 'x')}), IsOk());
  EXPECT_EQ(redis->Command({"STRLEN", "tls"})->integer, 100000);
  c.tls_server_name = "localhost";  // verified by name rather than by IP address
  EXPECT_THAT(Redis::Create(c)->Ping(), IsOk());
}

TEST_F(RedisTls, RefusesAServerCertificateFromAnotherCa) {
  RedisConfig c = Config();
  c.tls_ca_file = dir_.File("other-ca.crt");
  auto st = Redis::Create(c)->Ping();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(st.message()), HasSubstr("certificate verify failed"));
}

TEST_F(RedisTls, RefusesAServerCertificateForAnotherName) {
  RedisConfig c = Config();
  c.tls_server_name = "redis.example.com";
  auto st = Redis::Create(c)->Ping();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(st.message()), HasSubstr("mismatch"));
}

TEST_F(RedisTls, ServerRefusesAClientWithoutCertificate) {
  RedisConfig c = Config();
  c.tls_cert_file.clear();
  c.tls_key_file.clear();
  EXPECT_THAT(Redis::Create(c)->Ping(), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace cloudillo::cache
