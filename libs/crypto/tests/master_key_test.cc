#include "cloudillo/crypto/master_key.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::IsOkAndHolds;
using ::cloudillo::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

constexpr size_t kHeader = 8, kNonce = 12, kTag = 16;

std::string NewKey() { return Base64Encode(RandomBytes(32)); }

// What MasterKey::Seal wrote before versions: nonce(12) ‖ ciphertext ‖ tag(16), the aad
// alone as associated data. Written here with OpenSSL directly so the test does not lean
// on the code it checks.
std::string LegacySeal(const std::string& key_b64, std::string_view plaintext, std::string_view aad,
                       std::string nonce = RandomBytes(kNonce)) {
  std::string key = *Base64Decode(key_b64);
  std::string out = nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  auto* ct = reinterpret_cast<unsigned char*>(out.data()) + kNonce;
  auto u = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, u(key), u(nonce)), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &len, u(aad), int(aad.size())), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, ct, &len, u(plaintext), int(plaintext.size())), 1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, ct + len, &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(kTag), ct + plaintext.size()), 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

TEST(MasterKey, SealOpenRoundTripAndBindsAad) {
  CL_ASSERT_OK_AND_ASSIGN(MasterKey mk, MasterKey::FromBase64(NewKey()));
  for (std::string plaintext : {std::string(), std::string("secret"), RandomBytes(1000)}) {
    CL_ASSERT_OK_AND_ASSIGN(std::string sealed, mk.Seal(plaintext, "tn:1:signing-key"));
    EXPECT_EQ(sealed.size(), kHeader + kNonce + plaintext.size() + kTag);
    EXPECT_THAT(mk.Open(sealed, "tn:1:signing-key"), IsOkAndHolds(Eq(plaintext)));
    EXPECT_THAT(mk.Open(sealed, "tn:2:signing-key"), StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(mk.Open(sealed, ""), StatusIs(absl::StatusCode::kDataLoss));
  }
  CL_ASSERT_OK_AND_ASSIGN(std::string no_aad, mk.Seal("x", ""));
  EXPECT_THAT(mk.Open(no_aad, ""), IsOkAndHolds(Eq("x")));
  EXPECT_THAT(mk.Open(no_aad, "a"), StatusIs(absl::StatusCode::kDataLoss));
  // Two seals of one value differ (fresh nonce).
  EXPECT_NE(*mk.Seal("x", ""), *mk.Seal("x", ""));
}

TEST(MasterKey, HeaderNamesTheVersion) {
  CL_ASSERT_OK_AND_ASSIGN(MasterKey mk, MasterKey::FromText("7:" + NewKey() + "\n" + NewKey()));
  EXPECT_EQ(mk.current_version(), 7);
  CL_ASSERT_OK_AND_ASSIGN(std::string sealed, mk.Seal("x", "a"));
  EXPECT_EQ(sealed.substr(0, kHeader), std::string("CLK\x01\0\0\0\x07", kHeader));
  EXPECT_TRUE(Base64Encode(sealed).starts_with("Q0xLAQAA"));
  EXPECT_EQ(MasterKey::SealedVersion(sealed), 7);
  EXPECT_FALSE(mk.NeedsReseal(sealed));
}

TEST(MasterKey, WrongKeyCannotOpen) {
  CL_ASSERT_OK_AND_ASSIGN(MasterKey a, MasterKey::FromBase64(NewKey()));
  CL_ASSERT_OK_AND_ASSIGN(MasterKey b, MasterKey::FromBase64(NewKey()));
  EXPECT_THAT(b.Open(*a.Seal("x", ""), ""), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(MasterKey, LegacyValuesOpenUnderVersionOne) {
  std::string k1 = NewKey();
  std::string legacy = LegacySeal(k1, "old secret", "access.token_secrets:1:abc");
  EXPECT_EQ(MasterKey::SealedVersion(legacy), 0);

  CL_ASSERT_OK_AND_ASSIGN(MasterKey bare, MasterKey::FromBase64(k1));
  EXPECT_THAT(bare.Open(legacy, "access.token_secrets:1:abc"), IsOkAndHolds(Eq("old secret")));
  EXPECT_THAT(bare.Open(legacy, "access.token_secrets:2:abc"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(bare.NeedsReseal(legacy));  // legacy counts as version 1

  CL_ASSERT_OK_AND_ASSIGN(MasterKey ring, MasterKey::FromText("2:" + NewKey() + "\n1:" + k1));
  EXPECT_THAT(ring.Open(legacy, "access.token_secrets:1:abc"), IsOkAndHolds(Eq("old secret")));
  EXPECT_TRUE(ring.NeedsReseal(legacy));

  // Without version 1 the keyring says what is missing rather than "corrupt".
  CL_ASSERT_OK_AND_ASSIGN(MasterKey v2_only, MasterKey::FromText("2:" + NewKey()));
  auto st = v2_only.Open(legacy, "access.token_secrets:1:abc");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("version 1"));

  EXPECT_THAT(bare.Open("short", ""), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(bare.Open("", ""), StatusIs(absl::StatusCode::kDataLoss));
}

// A legacy nonce may begin with the magic (chance 2^-32): the header reading fails
// and the legacy reading must still open it, whatever version the "header" names.
TEST(MasterKey, LegacyNonceThatLooksLikeAHeaderStillOpens) {
  std::string k1 = NewKey();
  CL_ASSERT_OK_AND_ASSIGN(MasterKey ring, MasterKey::FromText("1:" + k1 + ",2:" + NewKey()));
  const std::string plaintext(20, 'v');
  for (auto [version, code] : {std::pair{1, absl::StatusCode::kDataLoss},
                               {2, absl::StatusCode::kDataLoss},
                               {0, absl::StatusCode::kDataLoss},
                               {9, absl::StatusCode::kFailedPrecondition}}) {
    std::string nonce = std::string("CLK\x01\0\0\0", 7) + char(version) + "abcd";
    std::string legacy = LegacySeal(k1, plaintext, "aad", nonce);
    EXPECT_EQ(MasterKey::SealedVersion(legacy), version);
    EXPECT_THAT(ring.Open(legacy, "aad"), IsOkAndHolds(Eq(plaintext)));
    // When neither reading opens, the answer is the header's: DataLoss, or the version
    // the keyring lacks.
    EXPECT_THAT(ring.Open(legacy, "other"), StatusIs(code)) << version;
  }
}

TEST(MasterKey, RotationKeepsOldValuesReadableUntilResealed) {
  std::string k1 = NewKey(), k2 = NewKey();
  CL_ASSERT_OK_AND_ASSIGN(MasterKey v1, MasterKey::FromText(k1));
  CL_ASSERT_OK_AND_ASSIGN(std::string old_sealed, v1.Seal("tenant key", "row:1"));
  EXPECT_EQ(MasterKey::SealedVersion(old_sealed), 1);
  EXPECT_FALSE(v1.NeedsReseal(old_sealed));

  // The operator prepends version 2 as the error text tells them to.
  CL_ASSERT_OK_AND_ASSIGN(MasterKey both, MasterKey::FromText("2:" + k2 + "\n" + k1 + "\n"));
  EXPECT_EQ(both.current_version(), 2);
  EXPECT_THAT(both.Open(old_sealed, "row:1"), IsOkAndHolds(Eq("tenant key")));
  EXPECT_TRUE(both.NeedsReseal(old_sealed));

  CL_ASSERT_OK_AND_ASSIGN(std::string plain, both.Open(old_sealed, "row:1"));
  CL_ASSERT_OK_AND_ASSIGN(std::string resealed, both.Seal(plain, "row:1"));
  EXPECT_EQ(MasterKey::SealedVersion(resealed), 2);
  EXPECT_FALSE(both.NeedsReseal(resealed));

  CL_ASSERT_OK_AND_ASSIGN(MasterKey v2_only, MasterKey::FromText("2:" + k2));
  EXPECT_THAT(v2_only.Open(resealed, "row:1"), IsOkAndHolds(Eq("tenant key")));
  auto st = v2_only.Open(old_sealed, "row:1");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("version 1"));
  // An older binary with only version 1 names the version it lacks.
  st = v1.Open(resealed, "row:1");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("version 2"));
}

TEST(MasterKey, TamperingIsDataLoss) {
  CL_ASSERT_OK_AND_ASSIGN(MasterKey ring, MasterKey::FromText("1:" + NewKey() + "\n2:" + NewKey()));
  CL_ASSERT_OK_AND_ASSIGN(std::string sealed, ring.Seal("secret value", "aad"));
  ASSERT_EQ(MasterKey::SealedVersion(sealed), 2);
  // Every byte of magic, nonce, ciphertext and tag. A changed magic makes the value
  // read as legacy, which fails too.
  for (size_t i = 0; i < sealed.size(); ++i) {
    if (i >= 4 && i < kHeader) continue;
    std::string t = sealed;
    t[i] ^= 0x01;
    EXPECT_THAT(ring.Open(t, "aad"), StatusIs(absl::StatusCode::kDataLoss)) << "byte " << i;
  }
  // The version swapped for another one the keyring has.
  std::string swapped = sealed;
  swapped[7] = 1;
  EXPECT_THAT(ring.Open(swapped, "aad"), StatusIs(absl::StatusCode::kDataLoss));
  // A version above 2^31 is no version: legacy reading, which fails.
  swapped = sealed;
  swapped[4] = char(0x80);
  EXPECT_THAT(ring.Open(swapped, "aad"), StatusIs(absl::StatusCode::kDataLoss));
  // Truncated or extended values.
  EXPECT_THAT(ring.Open(sealed.substr(0, sealed.size() - 1), "aad"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ring.Open(sealed + "x", "aad"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ring.Open(sealed.substr(0, kHeader + kNonce + kTag - 1), "aad"),
              StatusIs(absl::StatusCode::kDataLoss));
  // Without its header the body is not a legacy value either: the header is in the aad.
  EXPECT_THAT(ring.Open(sealed.substr(kHeader), "aad"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ring.Open(sealed.substr(0, kHeader), "aad"), StatusIs(absl::StatusCode::kDataLoss));
  CL_ASSERT_OK_AND_ASSIGN(MasterKey v1, MasterKey::FromText(NewKey()));
  CL_ASSERT_OK_AND_ASSIGN(std::string under_v1, v1.Seal("secret value", "aad"));
  EXPECT_THAT(v1.Open(under_v1.substr(kHeader), "aad"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(MasterKey, UnknownVersionIsFailedPrecondition) {
  CL_ASSERT_OK_AND_ASSIGN(MasterKey ring, MasterKey::FromText("1:" + NewKey() + "\n2:" + NewKey()));
  CL_ASSERT_OK_AND_ASSIGN(std::string sealed, ring.Seal("x", "aad"));
  sealed[7] = 3;
  auto st = ring.Open(sealed, "aad");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("version 3"));
  EXPECT_EQ(MasterKey::SealedVersion(sealed), 3);
  EXPECT_TRUE(ring.NeedsReseal(sealed));
}

TEST(MasterKey, SealedVersionReadsOnlyWellFormedHeaders) {
  EXPECT_EQ(MasterKey::SealedVersion(""), 0);
  EXPECT_EQ(MasterKey::SealedVersion("CLK\x01"), 0);
  EXPECT_EQ(MasterKey::SealedVersion(std::string("CLK\x01\0\0\0", 7)), 0);
  EXPECT_EQ(MasterKey::SealedVersion(std::string("CLK\x02\0\0\0\x01", 8)), 0);
  EXPECT_EQ(MasterKey::SealedVersion(std::string("CLK\x01\0\0\0\0", 8)), 0);
  EXPECT_EQ(MasterKey::SealedVersion(std::string("CLK\x01\x80\0\0\0", 8)), 0);
  EXPECT_EQ(MasterKey::SealedVersion(std::string("CLK\x01\x7f\xff\xff\xff", 8)), 2147483647);
  EXPECT_EQ(MasterKey::SealedVersion(std::string("CLK\x01\0\0\x01\0", 8)), 256);
}

TEST(MasterKey, KeyringTextForms) {
  std::string k1 = NewKey(), k2 = NewKey(), k3 = NewKey();
  for (std::string text :
       {k1, k1 + "\n", "\n" + k1 + "\r\n", "1:" + k1, " 1 : " + k1 + " ", "3:" + k3 + ",2:" + k2 + "," + k1,
        "3:" + k3 + "\r\n\r\n2:" + k2 + "\n1:" + k1 + "\n", "1:" + k1 + ",,3:" + k3}) {
    auto mk = MasterKey::FromText(text);
    ASSERT_THAT(mk, IsOk()) << text.size();
    CL_ASSERT_OK_AND_ASSIGN(MasterKey just1, MasterKey::FromBase64(k1));
    // Version 1 is k1 in every form: a legacy value and Derive agree.
    EXPECT_THAT(mk->Open(LegacySeal(k1, "p", "a"), "a"), IsOkAndHolds(Eq("p")));
    EXPECT_EQ(mk->Derive("purpose"), just1.Derive("purpose"));
  }
  CL_ASSERT_OK_AND_ASSIGN(MasterKey big, MasterKey::FromText("2147483647:" + k1));
  EXPECT_EQ(big.current_version(), 2147483647);
  EXPECT_THAT(big.Open(*big.Seal("x", ""), ""), IsOkAndHolds(Eq("x")));
}

TEST(MasterKey, DeriveDoesNotChangeOnRotation) {
  std::string k1 = NewKey(), k2 = NewKey(), k3 = NewKey();
  CL_ASSERT_OK_AND_ASSIGN(MasterKey v1, MasterKey::FromText(k1));
  CL_ASSERT_OK_AND_ASSIGN(MasterKey v12, MasterKey::FromText("2:" + k2 + "\n" + k1));
  EXPECT_EQ(v1.Derive("access.api_keys.hash"), v12.Derive("access.api_keys.hash"));
  EXPECT_EQ(v1.Derive("a").size(), 32u);
  EXPECT_NE(v1.Derive("a"), v1.Derive("b"));
  // Without version 1, the lowest version.
  CL_ASSERT_OK_AND_ASSIGN(MasterKey v2, MasterKey::FromText("2:" + k2));
  CL_ASSERT_OK_AND_ASSIGN(MasterKey v23, MasterKey::FromText("3:" + k3 + "\n2:" + k2));
  EXPECT_EQ(v2.Derive("a"), v23.Derive("a"));
  EXPECT_NE(v1.Derive("a"), v2.Derive("a"));
}

TEST(MasterKey, RejectsHostileKeyrings) {
  std::string k1 = NewKey(), k2 = NewKey();
  struct Case {
    std::string text;
    std::string names;  // what the message must contain
  };
  std::vector<Case> cases = {
      {"", "empty"},
      {"\n\n , \r\n", "empty"},
      {Base64Encode(RandomBytes(16)), "entry 1"},
      {Base64Encode(RandomBytes(33)), "entry 1"},
      {"not base64!", "entry 1"},
      {k1 + "\n" + k1.substr(0, 40), "entry 2"},
      {"1:" + k1 + "\n1:" + k2, "entry 2"},
      {k1 + "\n1:" + k2, "entry 2"},
      {k1 + "\n2:" + k1, "entry 2"},  // one key under two versions
      {"0:" + k1, "entry 1"},
      {"-1:" + k1, "entry 1"},
      {"+2:" + k1, "entry 1"},
      {"2147483648:" + k1, "entry 1"},
      {"99999999999999999999:" + k1, "entry 1"},
      {"x:" + k1, "entry 1"},
      {":" + k1, "entry 1"},
      {"2:", "entry 1"},
      {"1:2:" + k1, "entry 1"},
      {"2 3:" + k1, "entry 1"},
      {k1 + "\n\n3:" + k2 + "\n4:" + k1.substr(1), "entry 4"},  // blank lines count
      {std::string("1:") + '\0' + k1, "entry 1"},
      {k1 + std::string(1, '\0'), "entry 1"},
  };
  for (const auto& c : cases) {
    auto mk = MasterKey::FromText(c.text);
    ASSERT_THAT(mk, StatusIs(absl::StatusCode::kInvalidArgument)) << c.names;
    std::string msg(mk.status().message());
    EXPECT_THAT(msg, HasSubstr(c.names));
    // No key material, not even a fragment of it, in the message.
    for (const std::string& k : {k1, k2}) {
      for (size_t i = 0; i + 8 <= k.size(); i += 4)
        EXPECT_EQ(msg.find(k.substr(i, 8)), std::string::npos) << msg;
    }
  }
  EXPECT_THAT(MasterKey::FromBase64(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterKey::FromBase64(Base64Encode(RandomBytes(16))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterKey::FromBase64("not base64!"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterKey::FromBase64("2:" + k1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterKey::FromBase64(k1 + "," + k2), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cloudillo::crypto
