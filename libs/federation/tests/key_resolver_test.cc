#include "cloudillo/federation/key_resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/random.h"
#include "cloudillo/crypto/p384.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"
#include "profile_keys.h"
#include "test_server.h"

namespace cloudillo::federation {
namespace {

using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;
using testing::HttpRequest;
using testing::Reply;
using testing::TestServer;

std::string NewPublicKey() { return crypto::P384PrivateKey::Generate()->PublicKey().SpkiBase64(); }

std::string Profile(const std::string& id_tag, const std::vector<nlohmann::json>& keys) {
  nlohmann::json data = {{"idTag", id_tag}, {"name", "Bob"}, {"type", "person"}, {"keys", keys}};
  return nlohmann::json{{"data", data}, {"time", "2025-01-01T00:00:00Z"}}.dump();
}

nlohmann::json KeyEntry(const std::string& key_id, const std::string& b64, const char* expires = nullptr) {
  nlohmann::json k = {{"keyId", key_id}, {"publicKey", b64}};
  if (expires) k["expiresAt"] = expires;
  return k;
}

// The issuer's /api/me, changeable while the test runs.
struct Issuer {
  std::mutex mu;
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
  std::atomic<int> fetches{0};
  std::unique_ptr<TestServer> server;
  std::string iss = absl::StrCat("bob", absl::AsciiStrToLower(RandomAlnum(8)), ".test");

  Issuer() {
    server = std::make_unique<TestServer>([this](const HttpRequest& req) {
      ++fetches;
      std::lock_guard lock(mu);
      if (delay.count()) std::this_thread::sleep_for(delay);
      if (req.target() != "/api/me" || req.count(boost::beast::http::field::authorization))
        return Reply(400, "{}");
      return Reply(status, body);
    });
  }
  void Serve(int s, std::string b) {
    std::lock_guard lock(mu);
    status = s;
    body = std::move(b);
  }
  std::string Map() const { return absl::StrCat("cl-o.", iss, "=http://127.0.0.1:", server->port()); }
};

class KeyResolverTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ClientConfig c;
    c.federation_map = issuer_.Map();
    c.timeout = absl::Seconds(3);
    client_ = *Client::Create(c);
    if (GetParam()) {
      cache::RedisConfig rc;
      rc.addr = cloudillo::testing::GetTestEnv().redis_addr;
      redis_ = cache::Redis::Create(rc);
      ASSERT_THAT(redis_->Ping(), IsOk());
    }
  }

  std::shared_ptr<KeyResolver> Resolver(absl::Duration min_fetch_interval = absl::ZeroDuration()) {
    KeyResolver::Options o;
    o.min_fetch_interval = min_fetch_interval;
    return KeyResolver::Create(client_, redis_, o);
  }

  // Redis writes are fire-and-forget; a PING after them has seen them applied.
  void SettleRedis() {
    if (redis_) ASSERT_THAT(redis_->Ping(), IsOk());
  }

  Issuer issuer_;
  std::shared_ptr<Client> client_;
  std::shared_ptr<cache::Redis> redis_;
};

TEST_P(KeyResolverTest, MissFetchesThenHits) {
  std::string pub = NewPublicKey();
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", pub), KeyEntry("250202", NewPublicKey())}));
  auto resolver = Resolver();
  auto key = resolver->Key(issuer_.iss, "250101", 1700000000);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->SpkiBase64(), pub);
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1700000000), IsOk());
  EXPECT_THAT(resolver->Key(issuer_.iss, "250202", 1700000000), IsOk());  // cached by the same fetch
  EXPECT_EQ(issuer_.fetches.load(), 1);
}

TEST_P(KeyResolverTest, UnlistedKeyIsUnauthenticatedThenBlocked) {
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", NewPublicKey())}));
  auto resolver = Resolver();
  EXPECT_THAT(resolver->Key(issuer_.iss, "999999", 1), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(resolver->Key(issuer_.iss, "999999", 1), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(issuer_.fetches.load(), 1);
}

TEST_P(KeyResolverTest, NotFoundIsCached) {
  issuer_.Serve(404, R"({"error":{"code":"E-CORE-NOTFOUND"}})");
  auto resolver = Resolver();
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(issuer_.fetches.load(), 1);
}

TEST_P(KeyResolverTest, ServerErrorAndGarbageAreUnavailable) {
  issuer_.Serve(500, "oops");
  auto resolver = Resolver();
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), StatusIs(absl::StatusCode::kUnavailable));
  issuer_.Serve(200, "not json");
  EXPECT_THAT(resolver->Key(issuer_.iss, "250102", 1), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_P(KeyResolverTest, IdTagMismatchIsRefused) {
  issuer_.Serve(200, Profile("mallory.test", {KeyEntry("250101", NewPublicKey())}));
  auto resolver = Resolver();
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_P(KeyResolverTest, RefetchDetectsAChangedKey) {
  std::string a = NewPublicKey(), b = NewPublicKey();
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", a)}));
  auto resolver = Resolver();
  ASSERT_THAT(resolver->Key(issuer_.iss, "250101", 1), IsOk());
  EXPECT_THAT(resolver->Refetch(issuer_.iss, "250101"), ::cloudillo::testing::IsOkAndHolds(false));
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", b)}));
  EXPECT_THAT(resolver->Refetch(issuer_.iss, "250101"), ::cloudillo::testing::IsOkAndHolds(true));
  EXPECT_EQ(resolver->Key(issuer_.iss, "250101", 1)->SpkiBase64(), b);
  // Dropped by the issuer: Unauthenticated, and blocked afterwards.
  issuer_.Serve(200, Profile(issuer_.iss, {}));
  EXPECT_THAT(resolver->Refetch(issuer_.iss, "250101"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_P(KeyResolverTest, RefetchWithinAMinuteDoesNotFetch) {
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", NewPublicKey())}));
  auto resolver = Resolver(absl::Minutes(1));
  ASSERT_THAT(resolver->Key(issuer_.iss, "250101", 1), IsOk());
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", NewPublicKey())}));
  EXPECT_THAT(resolver->Refetch(issuer_.iss, "250101"), ::cloudillo::testing::IsOkAndHolds(false));
  // Random key ids within the interval are answered from the last fetch.
  EXPECT_THAT(resolver->Key(issuer_.iss, "random1", 1), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(resolver->Key(issuer_.iss, "random2", 1), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(issuer_.fetches.load(), 1);
}

TEST_P(KeyResolverTest, ConcurrentMissesShareOneFetch) {
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", NewPublicKey())}));
  issuer_.delay = std::chrono::milliseconds(300);
  auto resolver = Resolver();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (resolver->Key(issuer_.iss, "250101", 1).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(issuer_.fetches.load(), 1);
}

TEST_P(KeyResolverTest, ExpiryOnlyRefusesTokensIssuedAfterIt) {
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", NewPublicKey(), "2025-01-01T00:00:00Z")}));
  auto resolver = Resolver();
  int64_t expiry = 1735689600;
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", expiry - 10), IsOk());
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", expiry + 10),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_P(KeyResolverTest, RefusesNonCanonicalIssuersAndOddKeyIds) {
  auto resolver = Resolver();
  for (const char* bad : {"Bob.test", "a.io", "bob.test.", "xn--bcher-kva.test", " bob.test", "bob_x.test"})
    EXPECT_THAT(resolver->Key(bad, "250101", 1), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  for (const char* bad : {"", "a:b", "a b", "250101\n"})
    EXPECT_THAT(resolver->Key(issuer_.iss, bad, 1), StatusIs(absl::StatusCode::kUnauthenticated)) << bad;
  EXPECT_THAT(resolver->Key(issuer_.iss, std::string(65, 'k'), 1),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(issuer_.fetches.load(), 0);
}

TEST_P(KeyResolverTest, UnreachableIssuerIsUnavailableAndCached) {
  int port;
  {
    TestServer gone([](const HttpRequest&) { return Reply(200, "{}"); });
    port = gone.port();
  }
  ClientConfig c;
  c.federation_map = absl::StrCat("cl-o.", issuer_.iss, "=http://127.0.0.1:", port);
  auto resolver = KeyResolver::Create(*Client::Create(c), redis_, {});
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), StatusIs(absl::StatusCode::kUnavailable));
  auto again = resolver->Key(issuer_.iss, "250101", 1);
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_NE(again.status().message().find("temporarily blocked"), std::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(Cache, KeyResolverTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Redis" : "ProcessOnly";
                         });

class SharedRedis : public KeyResolverTest {};

TEST_P(SharedRedis, ReplicasShareKeysAndFailures) {
  std::string pub = NewPublicKey();
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", pub)}));
  ASSERT_THAT(Resolver()->Key(issuer_.iss, "250101", 1), IsOk());
  EXPECT_THAT(Resolver()->Key(issuer_.iss, "250199", 1), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(issuer_.fetches.load(), 2);
  SettleRedis();
  auto replica = Resolver();  // an empty process cache
  auto key = replica->Key(issuer_.iss, "250101", 1);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->SpkiBase64(), pub);
  EXPECT_THAT(replica->Key(issuer_.iss, "250199", 1), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(issuer_.fetches.load(), 2);
}

TEST_P(SharedRedis, RedisDownDegradesToFetching) {
  cache::RedisConfig rc;
  {
    TestServer gone([](const HttpRequest&) { return Reply(200, "{}"); });
    rc.addr = absl::StrCat("127.0.0.1:", gone.port());
  }
  rc.connect_timeout = absl::Milliseconds(200);
  rc.command_timeout = absl::Milliseconds(200);
  auto down = cache::Redis::Create(rc);
  issuer_.Serve(200, Profile(issuer_.iss, {KeyEntry("250101", NewPublicKey())}));
  auto resolver = KeyResolver::Create(client_, down, {});
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), IsOk());
  EXPECT_THAT(resolver->Key(issuer_.iss, "250101", 1), IsOk());
  EXPECT_EQ(issuer_.fetches.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Cache, SharedRedis, ::testing::Values(true));

TEST(ProfileKeys, ParsesTheEnvelopeAndSkipsBadEntries) {
  std::string good = NewPublicKey();
  nlohmann::json keys = nlohmann::json::array({KeyEntry("250101", good),
                                               KeyEntry("250102", "not base64!"),
                                               KeyEntry("bad id", good),
                                               KeyEntry("250103", good, "not a time"),
                                               {{"keyId", 5}, {"publicKey", good}},
                                               "string",
                                               nullptr,
                                               KeyEntry("250104", good, "2030-01-01T00:00:00.5+02:00")});
  keys.push_back({{"keyId", "250105"}, {"publicKey", good}, {"expiresAt", 1900000000}});
  auto parsed = ParseProfileKeys(Profile("bob.test", {keys.begin(), keys.end()}), "bob.test");
  ASSERT_THAT(parsed, IsOk());
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0].key_id, "250101");
  EXPECT_FALSE((*parsed)[0].expires_at.has_value());
  EXPECT_EQ((*parsed)[1].key_id, "250104");
  EXPECT_EQ(*(*parsed)[1].expires_at, 1893448800);
  EXPECT_EQ(*(*parsed)[2].expires_at, 1900000000);
}

TEST(ProfileKeys, RefusesWhatIsNotAProfile) {
  for (std::string bad : std::vector<std::string>{
           "", "null", "[]", "{}", R"({"data":null})", R"({"data":{"keys":[]}})",
           R"({"data":{"idTag":"bob.test"}})", R"({"data":{"idTag":"bob.test","keys":{}}})",
           R"({"data":{"idTag":5,"keys":[]}})", std::string(10000, '[')}) {
    EXPECT_THAT(ParseProfileKeys(bad, "bob.test"), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParseProfileKeys(R"({"data":{"idTag":"eve.test","keys":[]}})", "bob.test"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  std::vector<nlohmann::json> many(100, KeyEntry("250101", NewPublicKey()));
  EXPECT_EQ(ParseProfileKeys(Profile("bob.test", many), "bob.test")->size(), kMaxKeys);
}

}  // namespace
}  // namespace cloudillo::federation
