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

// The published form is read without OpenSSL; that path must refuse what d2i_PUBKEY
// refuses: a point off the curve, a coordinate not below p, a truncated or padded key.
TEST(P384, PublishedFormRefusesPointsNotOnTheCurve) {
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey key, P384PrivateKey::Generate());
  const std::string good = key.PublicKey().SpkiDer();
  ASSERT_EQ(good.size(), 24u + 96u);
  CL_ASSERT_OK_AND_ASSIGN(P384PublicKey same, P384PublicKey::FromSpkiDer(good));
  EXPECT_EQ(same.SpkiDer(), good);

  std::string off_curve = good;
  off_curve.back() ^= 1;  // y changed: y^2 != x^3 - 3x + b
  EXPECT_THAT(P384PublicKey::FromSpkiDer(off_curve), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string all_ff = good.substr(0, 24) + std::string(96, '\xff');  // x, y >= p
  EXPECT_THAT(P384PublicKey::FromSpkiDer(all_ff), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string zeros = good.substr(0, 24) + std::string(96, '\0');  // (0, 0): not on P-384
  EXPECT_THAT(P384PublicKey::FromSpkiDer(zeros), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(P384PublicKey::FromSpkiDer(good.substr(0, good.size() - 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(P384PublicKey::FromSpkiDer(good + '\0'), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cloudillo::crypto
