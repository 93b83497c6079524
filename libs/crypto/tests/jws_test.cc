// One vector per JWT attack class (EXAMPLES.md item 12). Each token is built from its
// header and claims written out here, then mutated the way an attacker would.
#include "cloudillo/crypto/jws.h"

#include <gtest/gtest.h>

#include "cloudillo/core/base64.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

const std::string kKey = "0123456789abcdef0123456789abcdef";
const std::string kPayload = R"({"iss":"alice.example.com","exp":4102444800})";

std::optional<std::string> KeyFor(std::string_view kid) {
  if (kid == "" || kid == "k1") return kKey;
  return std::nullopt;
}

std::string Forge(std::string_view header, std::string_view payload, std::string_view sig) {
  return Base64UrlEncode(header) + "." + Base64UrlEncode(payload) + "." + Base64UrlEncode(sig);
}

TEST(Jws, GoodTokenVerifies) {
  std::string t = SignHs256(kPayload, kKey, "k1");
  auto v = VerifyHs256(t, KeyFor);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->payload_json, kPayload);
  EXPECT_EQ(v->kid, "k1");
}

// {"alg":"none"} with an empty signature.
TEST(Jws, AlgNoneRejected) {
  std::string t = Forge(R"({"typ":"JWT","alg":"none"})", kPayload, "");
  EXPECT_THAT(VerifyHs256(t, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
  t = Forge(R"({"typ":"JWT","alg":"None"})", kPayload, "");
  EXPECT_THAT(VerifyHs256(t, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
}

// Algorithm confusion: an HS256 token presented where ES384 is required, and an
// HS384/HS512 header presented where HS256 is required.
TEST(Jws, WrongAlgorithmRejected) {
  std::string hs = SignHs256(kPayload, kKey);
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey es, P384PrivateKey::Generate());
  EXPECT_THAT(VerifyEs384(hs, es.PublicKey()), StatusIs(absl::StatusCode::kUnauthenticated));
  std::string input = Base64UrlEncode(R"({"alg":"HS512"})") + "." + Base64UrlEncode(kPayload);
  std::string t = input + "." + Base64UrlEncode(HmacSha256(kKey, input));
  EXPECT_THAT(VerifyHs256(t, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
  t = Forge(R"({"typ":"JWT"})", kPayload, "x");
  EXPECT_THAT(VerifyHs256(t, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(Jws, BadSignatureRejected) {
  std::string t = SignHs256(kPayload, kKey);
  char& c = t[t.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_THAT(VerifyHs256(t, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
  std::string other = SignHs256(kPayload, "another-secret-another-secret-xx");
  EXPECT_THAT(VerifyHs256(other, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(Jws, UnknownKidRejected) {
  std::string t = SignHs256(kPayload, kKey, "k9");
  EXPECT_THAT(VerifyHs256(t, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(Jws, CritHeaderRejected) {
  std::string input = Base64UrlEncode(R"({"alg":"HS256","crit":["exp"]})") + "." + Base64UrlEncode(kPayload);
  std::string t = input + "." + Base64UrlEncode(HmacSha256(kKey, input));
  EXPECT_THAT(VerifyHs256(t, KeyFor), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(Jws, MalformedStructureRejected) {
  for (std::string bad :
       {std::string(""), std::string("a.b"), std::string("a.b.c.d"), std::string("!!.!!.!!"),
        Forge("[]", kPayload, "x"), Forge("{", kPayload, "x"), Forge(R"({"alg":"HS256"})", "[1]", "x"),
        Forge(R"({"alg":"HS256"})", "\xff", "x"), std::string(70000, 'a') + ".b.c"}) {
    EXPECT_THAT(VerifyHs256(bad, KeyFor), StatusIs(absl::StatusCode::kInvalidArgument)) << bad.substr(0, 40);
  }
}

TEST(Jws, Es384RoundTripAndHeader) {
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey key, P384PrivateKey::Generate());
  CL_ASSERT_OK_AND_ASSIGN(std::string t, SignEs384(kPayload, key));
  EXPECT_EQ(t.substr(0, t.find('.')), Base64UrlEncode(R"({"typ":"JWT","alg":"ES384"})"));
  EXPECT_THAT(VerifyEs384(t, key.PublicKey()), IsOk());
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey other, P384PrivateKey::Generate());
  EXPECT_THAT(VerifyEs384(t, other.PublicKey()), StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace cloudillo::crypto
