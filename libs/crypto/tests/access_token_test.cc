#include "cloudillo/crypto/access_token.h"

#include <gtest/gtest.h>

#include "cloudillo/crypto/jws.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

const absl::Time kNow = absl::FromUnixSeconds(1'750'000'000);
const std::string kSecret = "tenant-a-secret-0123456789abcdef";

std::optional<std::string> Secrets(std::string_view kid) {
  if (kid == "s1") return kSecret;
  return std::nullopt;
}

AccessClaims Claims() {
  AccessClaims c;
  c.iss = "alice.example.com";
  c.sub = "alice.example.com";
  c.roles = "public,follower";
  c.exp = absl::ToUnixSeconds(kNow) + 3600;
  return c;
}

TEST(AccessToken, ClaimsShapeOmitsAbsent) {
  AccessClaims c = Claims();
  c.sub.reset();
  EXPECT_EQ(AccessClaimsJson(c), R"({"iss":"alice.example.com","r":"public,follower","exp":1750003600})");
}

TEST(AccessToken, ClaimsInTheReferenceOrder) {
  AccessClaims c = Claims();
  c.scope = "file:f1~x:R";
  EXPECT_EQ(
      AccessClaimsJson(c),
      R"({"iss":"alice.example.com","sub":"alice.example.com","scope":"file:f1~x:R","r":"public,follower",)"
      R"("exp":1750003600})");
}

TEST(AccessToken, GoodToken) {
  auto v = VerifyAccessToken(SignAccessToken(Claims(), kSecret, "s1"), "alice.example.com", kNow, Secrets);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->Subject(), "alice.example.com");
  EXPECT_EQ(*v->roles, "public,follower");
}

// {"iss":"alice.example.com","exp":now-61}: past the 60 s leeway.
TEST(AccessToken, ExpiredRejected) {
  AccessClaims c = Claims();
  c.exp = absl::ToUnixSeconds(kNow) - 61;
  EXPECT_THAT(VerifyAccessToken(SignAccessToken(c, kSecret, "s1"), "alice.example.com", kNow, Secrets),
              StatusIs(absl::StatusCode::kUnauthenticated));
  c.exp = absl::ToUnixSeconds(kNow) - 59;
  EXPECT_THAT(VerifyAccessToken(SignAccessToken(c, kSecret, "s1"), "alice.example.com", kNow, Secrets),
              IsOk());
}

// {"iss":"alice.example.com",...} presented on cl-o.bob.example.com.
TEST(AccessToken, AnotherTenantsTokenRejected) {
  EXPECT_THAT(VerifyAccessToken(SignAccessToken(Claims(), kSecret, "s1"), "bob.example.com", kNow, Secrets),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AccessToken, MissingOrMistypedClaimsRejected) {
  for (const char* payload : {R"({"iss":"alice.example.com"})", R"({"exp":1750003600})",
                              R"({"iss":"alice.example.com","exp":"1750003600"})",
                              R"({"iss":"alice.example.com","exp":1750003600.5})",
                              R"({"iss":"alice.example.com","exp":1750003600,"sub":7})"}) {
    EXPECT_THAT(VerifyAccessToken(SignHs256(payload, kSecret, "s1"), "alice.example.com", kNow, Secrets),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << payload;
  }
}

}  // namespace
}  // namespace cloudillo::crypto
