// Project Wycheproof vectors from ../shared/testdata (never copied into the repo).
// When the folder is absent (a user's fresh clone) these tests report SKIPPED.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/escaping.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/crypto/action_token.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/crypto/jws.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::crypto {
namespace {
using json = nlohmann::json;

std::optional<json> LoadVectors(const std::string& name) {
  const char* dir = std::getenv("CLOUDILLO_SHARED_TESTDATA");
  if (!dir) return std::nullopt;
  std::ifstream in(std::string(dir) + "/wycheproof/" + name);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// P384PublicKey::Verify is the Nettle path (p384.h): these vectors run through it.
TEST(Wycheproof, EcdsaP384Sha384P1363) {
  auto v = LoadVectors("ecdsa_secp384r1_sha384_p1363_test.json");
  if (!v) GTEST_SKIP() << "shared testdata absent";
  int checked = 0;
  for (const auto& group : (*v)["testGroups"]) {
    auto key = P384PublicKey::FromSpkiDer(absl::HexStringToBytes(group["publicKeyDer"].get<std::string>()));
    ASSERT_TRUE(key.ok()) << key.status();
    for (const auto& t : group["tests"]) {
      std::string msg = absl::HexStringToBytes(t["msg"].get<std::string>());
      std::string sig = absl::HexStringToBytes(t["sig"].get<std::string>());
      bool ok = key->Verify(msg, sig);
      std::string result = t["result"];
      if (result == "valid") EXPECT_TRUE(ok) << "tcId " << t["tcId"] << " " << t["comment"];
      if (result == "invalid") EXPECT_FALSE(ok) << "tcId " << t["tcId"] << " " << t["comment"];
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
}

// The raw R‖S form for a strict-DER ECDSA signature; nullopt for any encoding that is
// not exactly DER (BER lengths, padding, trailing bytes...) or a value over 48 bytes.
// Such a signature has no raw form, so the vector must be one that expects rejection.
std::optional<std::string> RawFromStrictDer(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(der.size()));
  if (!sig) return std::nullopt;
  unsigned char* again = nullptr;
  int len = i2d_ECDSA_SIG(sig, &again);
  bool strict = len == int(der.size()) && std::memcmp(again, der.data(), der.size()) == 0;
  OPENSSL_free(again);
  std::string raw(96, '\0');
  const BIGNUM* r = ECDSA_SIG_get0_r(sig);
  const BIGNUM* s = ECDSA_SIG_get0_s(sig);
  bool fits = !BN_is_negative(r) && !BN_is_negative(s) &&
              BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 48) == 48 &&
              BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 48, 48) == 48;
  ECDSA_SIG_free(sig);
  if (!strict || !fits) return std::nullopt;
  return raw;
}

// The DER file where it applies: every signature that has a raw form goes through the
// Nettle path; the rest (encoding attacks) must all be vectors that expect rejection.
TEST(Wycheproof, EcdsaP384Sha384Der) {
  auto v = LoadVectors("ecdsa_secp384r1_sha384_test.json");
  if (!v) GTEST_SKIP() << "shared testdata absent";
  int through_nettle = 0, encoding_only = 0;
  for (const auto& group : (*v)["testGroups"]) {
    auto key = P384PublicKey::FromSpkiDer(absl::HexStringToBytes(group["publicKeyDer"].get<std::string>()));
    ASSERT_TRUE(key.ok()) << key.status();
    for (const auto& t : group["tests"]) {
      std::string result = t["result"];
      ASSERT_NE(result, "acceptable") << "tcId " << t["tcId"];
      std::optional<std::string> raw = RawFromStrictDer(absl::HexStringToBytes(t["sig"].get<std::string>()));
      if (!raw) {
        EXPECT_EQ(result, "invalid") << "tcId " << t["tcId"] << " " << t["comment"];
        ++encoding_only;
        continue;
      }
      bool ok = key->Verify(absl::HexStringToBytes(t["msg"].get<std::string>()), *raw);
      EXPECT_EQ(ok, result == "valid") << "tcId " << t["tcId"] << " " << t["comment"];
      ++through_nettle;
    }
  }
  EXPECT_GT(through_nettle, 250);
  EXPECT_GT(encoding_only, 100);
}

// JWS attacks. The file holds no ES384 vector today (its algorithms are HS256, ES256,
// ES521, RS*, PS*), so every token in it must be refused by the ES384 paths; should an
// ES384 vector with a P-384 JWK appear, it is checked for its expected answer.
TEST(Wycheproof, JsonWebSignature) {
  auto v = LoadVectors("json_web_signature_test.json");
  if (!v) GTEST_SKIP() << "shared testdata absent";
  const P384PublicKey any_key = P384PrivateKey::Generate()->PublicKey();
  int refused = 0, es384 = 0;
  for (const auto& group : (*v)["testGroups"]) {
    const json* jwk = group.contains("public") ? &group["public"] : nullptr;
    std::optional<P384PublicKey> group_key;
    if (jwk && jwk->value("kty", "") == "EC" && jwk->value("crv", "") == "P-384") {
      auto x = Base64UrlDecode((*jwk)["x"].get<std::string>());
      auto y = Base64UrlDecode((*jwk)["y"].get<std::string>());
      ASSERT_TRUE(x.ok() && y.ok());
      auto k = P384PublicKey::FromSpkiDer(any_key.SpkiDer().substr(0, 24) + *x + *y);
      ASSERT_TRUE(k.ok()) << k.status();
      group_key = *k;
    }
    for (const auto& t : group["tests"]) {
      std::string jws = t["jws"].is_string() ? t["jws"].get<std::string>() : t["jws"].dump();
      auto header = DecodeUnverified(jws);
      bool is_es384 =
          header.ok() && json::parse(header->header_json, nullptr, false).value("alg", "") == "ES384";
      if (is_es384 && group_key) {
        ++es384;
        EXPECT_EQ(VerifyEs384(jws, *group_key).ok(), t["result"] == "valid") << "tcId " << t["tcId"];
        continue;
      }
      EXPECT_FALSE(VerifyEs384(jws, any_key).ok()) << "tcId " << t["tcId"];
      EXPECT_FALSE(DecodeActionToken(jws).ok()) << "tcId " << t["tcId"];
      EXPECT_FALSE(VerifyActionToken(jws, any_key, absl::Now()).ok()) << "tcId " << t["tcId"];
      ++refused;
    }
  }
  EXPECT_EQ(refused + es384, (*v)["numberOfTests"].get<int>());
  EXPECT_GT(refused, 350);
}

TEST(Wycheproof, HmacSha256) {
  auto v = LoadVectors("hmac_sha256_test.json");
  if (!v) GTEST_SKIP() << "shared testdata absent";
  int checked = 0;
  for (const auto& group : (*v)["testGroups"]) {
    size_t tag_bytes = group["tagSize"].get<size_t>() / 8;
    for (const auto& t : group["tests"]) {
      std::string mac = HmacSha256(absl::HexStringToBytes(t["key"].get<std::string>()),
                                   absl::HexStringToBytes(t["msg"].get<std::string>()));
      bool ok =
          ConstantTimeEqual(mac.substr(0, tag_bytes), absl::HexStringToBytes(t["tag"].get<std::string>()));
      EXPECT_EQ(ok, t["result"] == "valid") << "tcId " << t["tcId"];
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace cloudillo::crypto
