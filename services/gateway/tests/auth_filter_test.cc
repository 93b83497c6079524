#include "auth_filter.h"

#include <gtest/gtest.h>

#include "cloudillo/crypto/access_token.h"
#include "verified_tokens.h"

namespace cloudillo::gateway {
namespace {

TEST(ScopePermits, FileScopesReachOnlyTheirFamilies) {
  EXPECT_TRUE(ScopePermits("", "/api/settings", "GET"));
  EXPECT_TRUE(ScopePermits("file:f1~abc:W", "/api/files/f1~abc", "GET"));
  EXPECT_TRUE(ScopePermits("file:f1~abc:W", "/ws/crdt/f1~abc", "GET"));
  EXPECT_TRUE(ScopePermits("file:f1~abc:W", "/api/auth/access-token", "GET"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/settings", "GET"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/me", "PATCH"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/auth/api-keys", "POST"));
  // A share link's guest never reaches the refs that admitted it.
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/refs", "GET"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:R", "/api/refs/abc", "DELETE"));
  EXPECT_FALSE(ScopePermits("nonsense", "/api/files/x", "GET"));
  EXPECT_TRUE(ScopePermits("apkg:publish", "/api/actions", "POST"));
  EXPECT_FALSE(ScopePermits("apkg:publish", "/api/actions", "GET"));
  EXPECT_TRUE(ScopePermits("carddav:read", "/api/contacts", "GET"));
}

TEST(QueryToken, ReadsRawValue) {
  EXPECT_EQ(QueryToken("access=write&token=a.b%2Ec"), "a.b%2Ec");
  EXPECT_EQ(QueryToken("tokens=x"), "");
  EXPECT_EQ(QueryToken(""), "");
  EXPECT_EQ(QueryToken("token="), "");
}

// Tokens verified once are taken from VerifiedTokens for the same secret set only, until
// they expire, and their scope is still checked against every request's path.
class VerifiedTokensTest : public ::testing::Test {
 protected:
  Secrets MakeSecrets(std::string secret) {
    return std::make_shared<const std::vector<SecretInfo>>(
        std::vector<SecretInfo>{{"k1", std::move(secret)}});
  }
  std::string Token(const std::string& iss, std::optional<std::string> scope, int64_t exp,
                    const std::string& secret = "s3cret") {
    crypto::AccessClaims c;
    c.iss = iss;
    c.sub = "bob.test";
    c.scope = std::move(scope);
    c.exp = exp;
    return crypto::SignAccessToken(c, secret, "k1");
  }
  AuthResult Auth(const Secrets& secrets, const std::string& token, const std::string& path, absl::Time now) {
    Bearer b;
    b.kind = Bearer::kJwt;
    b.value = token;
    http::Request req;
    req.method = "GET";
    req.path = path;
    bool unknown_kid = false;
    return AuthenticateJwt(secrets, tenant_, b, req, now, &unknown_kid, &verified_);
  }
  TenantInfo tenant_{7, "alice.test"};
  VerifiedTokens verified_{16};
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(VerifiedTokensTest, AHitNeedsTheSameSecretSetAndAnUnexpiredToken) {
  Secrets secrets = MakeSecrets("s3cret");
  std::string token = Token("alice.test", std::nullopt, absl::ToUnixSeconds(now_) + 600);
  std::string key = VerifiedTokens::KeyOf(7, token);
  EXPECT_FALSE(verified_.Find(key, secrets, now_));
  AuthResult first = Auth(secrets, token, "/api/me", now_);
  ASSERT_EQ(first.problem, AuthProblem::kNone);
  auto hit = verified_.Find(key, secrets, now_);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->subject, "bob.test");
  // The same token on another tenant's host is another key (and fails its issuer check).
  EXPECT_NE(VerifiedTokens::KeyOf(8, token), key);
  // An equal but new secret set (a refresh, a rotation) is not the set it was checked with.
  EXPECT_FALSE(verified_.Find(key, MakeSecrets("s3cret"), now_));
  ASSERT_EQ(Auth(secrets, token, "/api/me", now_).problem, AuthProblem::kNone);
  // Past the expiry and its leeway, it verifies no more and is dropped.
  absl::Time late = now_ + absl::Seconds(600 + 61);
  EXPECT_FALSE(verified_.Find(key, secrets, late));
  EXPECT_EQ(Auth(secrets, token, "/api/me", late).problem, AuthProblem::kBadToken);
}

TEST_F(VerifiedTokensTest, AKeptTokenIsStillScopedPerPathAndBadTokensAreNeverKept) {
  Secrets secrets = MakeSecrets("s3cret");
  std::string scoped = Token("alice.test", "file:f1~abc:R", absl::ToUnixSeconds(now_) + 600);
  EXPECT_EQ(Auth(secrets, scoped, "/api/files/f1~abc", now_).problem, AuthProblem::kNone);
  EXPECT_EQ(Auth(secrets, scoped, "/api/settings", now_).problem, AuthProblem::kOutOfScope);
  // A wrong signature, or a token of another tenant, never enters the cache.
  std::string forged = Token("alice.test", std::nullopt, absl::ToUnixSeconds(now_) + 600, "other");
  EXPECT_EQ(Auth(secrets, forged, "/api/me", now_).problem, AuthProblem::kBadToken);
  EXPECT_FALSE(verified_.Find(VerifiedTokens::KeyOf(7, forged), secrets, now_));
  std::string foreign = Token("eve.test", std::nullopt, absl::ToUnixSeconds(now_) + 600);
  EXPECT_EQ(Auth(secrets, foreign, "/api/me", now_).problem, AuthProblem::kBadToken);
  EXPECT_FALSE(verified_.Find(VerifiedTokens::KeyOf(7, foreign), secrets, now_));
}

TEST_F(VerifiedTokensTest, BoundedByItsCapacity) {
  Secrets secrets = MakeSecrets("s3cret");
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    std::string token = Token("alice.test", std::nullopt, absl::ToUnixSeconds(now_) + 600 + i);
    ASSERT_EQ(Auth(secrets, token, "/api/me", now_).problem, AuthProblem::kNone);
    keys.push_back(VerifiedTokens::KeyOf(7, token));
  }
  int kept = 0;
  for (const auto& k : keys) kept += verified_.Find(k, secrets, now_) ? 1 : 0;
  EXPECT_EQ(kept, 16);
  EXPECT_TRUE(verified_.Find(keys.back(), secrets, now_));
}

}  // namespace
}  // namespace cloudillo::gateway
