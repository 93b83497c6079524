// The PROXY exchange's receiving rules (PROTOCOL §13.1, E6) with hostile tokens, and
// the reading of a peer's grant. No network: a resolver stub answers the issuer's key.
#include "cloudillo/federation/proxy_exchange.h"

#include <gtest/gtest.h>

#include "cloudillo/core/base64.h"
#include "cloudillo/crypto/p384.h"
#include "cloudillo/federation/key_resolver.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::federation {
namespace {

using ::cloudillo::testing::StatusIs;

constexpr int64_t kNow = 1767225600;  // 2026-01-01

class StubKeys : public KeyResolver {
 public:
  explicit StubKeys(absl::StatusOr<crypto::P384PublicKey> key) : key_(std::move(key)) {}
  absl::StatusOr<crypto::P384PublicKey> Key(std::string_view, std::string_view, int64_t) override {
    ++fetches;
    return key_;
  }
  absl::StatusOr<bool> Refetch(std::string_view, std::string_view) override { return false; }
  int fetches = 0;

 private:
  absl::StatusOr<crypto::P384PublicKey> key_;
};

crypto::ActionClaims Proxy() {
  crypto::ActionClaims c;
  c.iss = "alice.test";
  c.k = "260101";
  c.t = "PROXY";
  c.aud = "bob.test";
  c.iat = kNow;
  c.exp = kNow + 60;
  return c;
}

class ProxyExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = crypto::P384PrivateKey::Generate();
    ASSERT_TRUE(k.ok());
    key_.emplace(*k);
  }
  std::string Sign(const crypto::ActionClaims& c) { return *crypto::SignActionToken(c, *key_); }
  absl::StatusOr<crypto::ActionClaims> Verify(const std::string& token, StubKeys* keys = nullptr) {
    StubKeys own(key_->PublicKey());
    return VerifyProxyToken(token, "bob.test", keys ? *keys : own, absl::FromUnixSeconds(kNow));
  }
  std::optional<crypto::P384PrivateKey> key_;
};

TEST(CheckProxyClaims, AcceptsTheReferenceShape) {
  EXPECT_TRUE(CheckProxyClaims(Proxy(), "bob.test", kNow).ok());
}

TEST(CheckProxyClaims, RefusesEverythingElse) {
  auto refused = [](crypto::ActionClaims c, int64_t now = kNow) {
    return CheckProxyClaims(c, "bob.test", now).code() == absl::StatusCode::kPermissionDenied;
  };
  crypto::ActionClaims c = Proxy();
  c.t = "CONN";  // the reference's gap: any action token with the right aud
  EXPECT_TRUE(refused(c));
  c.t = "PROXY:X";
  EXPECT_TRUE(refused(c));
  c.t = "proxy";
  EXPECT_TRUE(refused(c));
  c = Proxy();
  c.aud = "carol.test";
  EXPECT_TRUE(refused(c));
  c.aud.reset();
  EXPECT_TRUE(refused(c));
  c = Proxy();
  c.exp.reset();
  EXPECT_TRUE(refused(c));
  c.exp = kNow + 301;
  EXPECT_TRUE(refused(c));
  c.exp = kNow + 300;
  EXPECT_FALSE(refused(c));
  c.exp = kNow - 61;
  EXPECT_TRUE(refused(c));
  c.exp = kNow - 60;  // inside the leeway
  EXPECT_FALSE(refused(c));
  EXPECT_TRUE(refused(Proxy(), kNow + 121));
}

TEST_F(ProxyExchangeTest, VerifiesAGoodToken) {
  auto c = Verify(Sign(Proxy()));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->iss, "alice.test");
}

TEST_F(ProxyExchangeTest, RefusesBeforeFetchingAKey) {
  crypto::ActionClaims c = Proxy();
  c.t = "POST";
  StubKeys keys(key_->PublicKey());
  EXPECT_THAT(Verify(Sign(c), &keys).status(), StatusIs(absl::StatusCode::kPermissionDenied));
  c = Proxy();
  c.exp.reset();
  EXPECT_THAT(Verify(Sign(c), &keys).status(), StatusIs(absl::StatusCode::kPermissionDenied));
  c = Proxy();
  c.aud = "carol.test";
  EXPECT_THAT(Verify(Sign(c), &keys).status(), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(keys.fetches, 0);
}

TEST_F(ProxyExchangeTest, UndecodableIsForbidden) {
  for (const std::string& t :
       std::vector<std::string>{"", ".", "a.b.c", "not a token", "eyJ.eyJ.", std::string(5000, 'A')}) {
    EXPECT_THAT(Verify(t).status(), StatusIs(absl::StatusCode::kPermissionDenied)) << t;
  }
}

TEST_F(ProxyExchangeTest, OtherAlgorithmsAreForbidden) {
  std::string good = Sign(Proxy());
  std::string rest = good.substr(good.find('.'));
  for (const char* header : {R"({"typ":"JWT","alg":"none"})", R"({"typ":"JWT","alg":"ES256"})",
                             R"({"typ":"JWT","alg":"HS256"})"}) {
    std::string forged = Base64UrlEncode(header) + rest;
    EXPECT_THAT(Verify(forged).status(), StatusIs(absl::StatusCode::kPermissionDenied)) << header;
  }
  // alg none with the signature stripped.
  std::string none = Base64UrlEncode(R"({"typ":"JWT","alg":"none"})") + rest.substr(0, rest.rfind('.') + 1);
  EXPECT_THAT(Verify(none).status(), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ProxyExchangeTest, AnotherKeyIsForbidden) {
  auto other = crypto::P384PrivateKey::Generate();
  ASSERT_TRUE(other.ok());
  StubKeys keys(other->PublicKey());
  EXPECT_THAT(Verify(Sign(Proxy()), &keys).status(), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ProxyExchangeTest, AlteredPayloadIsForbidden) {
  std::string good = Sign(Proxy());
  crypto::ActionClaims c = Proxy();
  c.iss = "mallory.test";
  std::string other = Sign(c);
  // mallory's payload under alice's signature.
  std::string spliced = good.substr(0, good.find('.')) +
                        other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                        good.substr(good.rfind('.'));
  EXPECT_THAT(Verify(spliced).status(), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ProxyExchangeTest, KeyFetchFailureIsUnavailable) {
  StubKeys keys(absl::UnavailableError("peer down"));
  EXPECT_THAT(Verify(Sign(Proxy()), &keys).status(), StatusIs(absl::StatusCode::kUnavailable));
  StubKeys unlisted(absl::UnauthenticatedError("key not listed"));
  EXPECT_THAT(Verify(Sign(Proxy()), &unlisted).status(), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ReadGrant, ReadsRolesAndExp) {
  std::string payload = R"({"iss":"bob.test","sub":"alice.test","r":"public,follower","exp":1767229200})";
  auto g = ReadGrant("eyJhbGciOiJIUzI1NiJ9." + Base64UrlEncode(payload) + ".sig");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->roles, "public,follower");
  EXPECT_EQ(g->exp, 1767229200);
  g = ReadGrant("x." + Base64UrlEncode(R"({"iss":"bob.test","exp":5})") + ".s");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->roles, "");
  EXPECT_FALSE(ReadGrant("x." + Base64UrlEncode(R"({"iss":"bob.test"})") + ".s").ok());
  EXPECT_FALSE(ReadGrant("nodots").ok());
  EXPECT_FALSE(ReadGrant("a.!!!.c").ok());
}

}  // namespace
}  // namespace cloudillo::federation
