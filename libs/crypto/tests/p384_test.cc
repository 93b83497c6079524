#include "cloudillo/crypto/p384.h"

#include <gtest/gtest.h>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {
using ::cloudillo::testing::StatusIs;

TEST(P384, SignVerifyRoundTripAndPublishedForm) {
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey key, P384PrivateKey::Generate());
  std::string b64 = key.PublicKey().SpkiBase64();
  EXPECT_EQ(b64.size(), 160u);
  EXPECT_EQ(b64.rfind("MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE", 0), 0u);
  CL_ASSERT_OK_AND_ASSIGN(P384PublicKey pub, P384PublicKey::FromBase64Spki(b64));
  CL_ASSERT_OK_AND_ASSIGN(std::string sig, key.Sign("message"));
  EXPECT_EQ(sig.size(), 96u);
  EXPECT_TRUE(pub.Verify("message", sig));
  EXPECT_FALSE(pub.Verify("messagE", sig));
  sig[10] ^= 1;
  EXPECT_FALSE(pub.Verify("message", sig));
  EXPECT_FALSE(pub.Verify("message", sig.substr(0, 95)));
  EXPECT_FALSE(pub.Verify("message", std::string(96, '\0')));
}

TEST(P384, Pkcs8RoundTrip) {
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey key, P384PrivateKey::Generate());
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey again, P384PrivateKey::FromPkcs8Der(key.Pkcs8Der()));
  EXPECT_EQ(again.PublicKey().SpkiDer(), key.PublicKey().SpkiDer());
}

TEST(P384, RejectsGarbageAndOtherCurves) {
  EXPECT_THAT(P384PublicKey::FromSpkiDer("garbage"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(P384PublicKey::FromBase64Spki("!!!"), StatusIs(absl::StatusCode::kInvalidArgument));
  // A P-256 SPKI (prime256v1) must not be accepted as a P-384 key.
  EXPECT_THAT(P384PublicKey::FromBase64Spki(
                  "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/"
                  "o5+uQbTjL3chynL4wXgUg2R9q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg=="),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(P384PrivateKey::FromPkcs8Der(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cloudillo::crypto
