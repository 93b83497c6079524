// Nettle (our Sign/Verify) against OpenSSL (test only): signatures made by either
// verify with the other, keys keep their bytes through our storage formats, and a
// signature one side refuses the other refuses too.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cloudillo/core/random.h"
#include "cloudillo/crypto/p384.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {

constexpr int kRounds = 64;

const unsigned char* U(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

EvpKeyPtr OpenSslKey() { return EvpKeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")); }

std::string Pkcs8Of(EVP_PKEY* key) {
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(key);
  unsigned char* buf = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(info, &buf);
  PKCS8_PRIV_KEY_INFO_free(info);
  std::string out(reinterpret_cast<char*>(buf), size_t(len));
  OPENSSL_free(buf);
  return out;
}

std::string SpkiOf(EVP_PKEY* key) {
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(key, &buf);
  std::string out(reinterpret_cast<char*>(buf), size_t(len));
  OPENSSL_free(buf);
  return out;
}

EvpKeyPtr PublicFromSpki(const std::string& der) {
  const unsigned char* p = U(der);
  return EvpKeyPtr(d2i_PUBKEY(nullptr, &p, long(der.size())));
}

bool OpenSslVerify(EVP_PKEY* key, const std::string& msg, const std::string& raw) {
  if (raw.size() != 96) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(U(raw), 48, nullptr), BN_bin2bn(U(raw) + 48, 48, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha384(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, der, size_t(der_len), U(msg), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

std::string OpenSslSign(EVP_PKEY* key, const std::string& msg) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, U(msg), msg.size());
  std::string der(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len, U(msg), msg.size());
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = U(der);
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(len));
  std::string raw(96, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 48);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 48, 48);
  ECDSA_SIG_free(sig);
  return raw;
}

TEST(P384CrossCheck, NettleSignaturesVerifyWithOpenSsl) {
  for (int i = 0; i < kRounds; ++i) {
    EvpKeyPtr evp = OpenSslKey();
    CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey key, P384PrivateKey::FromPkcs8Der(Pkcs8Of(evp.get())));
    // The key published from Nettle's point is the same SPKI OpenSSL writes.
    ASSERT_EQ(key.PublicKey().SpkiDer(), SpkiOf(evp.get()));
    std::string msg = RandomBytes(size_t(i) * 7);
    CL_ASSERT_OK_AND_ASSIGN(std::string sig, key.Sign(msg));
    ASSERT_EQ(sig.size(), 96u);
    EXPECT_TRUE(OpenSslVerify(evp.get(), msg, sig)) << i;
    sig[size_t(i) % 96] ^= 0x40;
    EXPECT_FALSE(OpenSslVerify(evp.get(), msg, sig)) << i;
    EXPECT_FALSE(key.PublicKey().Verify(msg, sig)) << i;
  }
}

TEST(P384CrossCheck, OpenSslSignaturesVerifyWithNettle) {
  for (int i = 0; i < kRounds; ++i) {
    EvpKeyPtr evp = OpenSslKey();
    CL_ASSERT_OK_AND_ASSIGN(P384PublicKey pub, P384PublicKey::FromSpkiDer(SpkiOf(evp.get())));
    std::string msg = RandomBytes(size_t(i) * 5 + 1);
    std::string sig = OpenSslSign(evp.get(), msg);
    EXPECT_TRUE(pub.Verify(msg, sig)) << i;
    msg[0] ^= 1;
    EXPECT_FALSE(pub.Verify(msg, sig)) << i;
    EXPECT_FALSE(OpenSslVerify(evp.get(), msg, sig)) << i;
  }
}

TEST(P384CrossCheck, StorageFormatsRoundTripThroughBothLibraries) {
  CL_ASSERT_OK_AND_ASSIGN(P384PrivateKey ours, P384PrivateKey::Generate());
  // Our PKCS#8 loads in OpenSSL, whose signature our public key accepts, and back.
  std::string der = ours.Pkcs8Der();
  const unsigned char* p = U(der);
  PKCS8_PRIV_KEY_INFO* info = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, long(der.size()));
  ASSERT_NE(info, nullptr);
  EvpKeyPtr evp(EVP_PKCS82PKEY(info));
  PKCS8_PRIV_KEY_INFO_free(info);
  ASSERT_NE(evp, nullptr);
  EXPECT_TRUE(ours.PublicKey().Verify("m", OpenSslSign(evp.get(), "m")));
  EvpKeyPtr pub = PublicFromSpki(ours.PublicKey().SpkiDer());
  ASSERT_NE(pub, nullptr);
  EXPECT_TRUE(OpenSslVerify(pub.get(), "m", *ours.Sign("m")));
}

TEST(P384CrossCheck, MismatchedPkcs8PublicKeyRefused) {
  // A PKCS#8 (SEC1 inside) whose optional public key belongs to another private key.
  EvpKeyPtr a = OpenSslKey(), b = OpenSslKey();
  std::string der_a = Pkcs8Of(a.get()), pub_b = SpkiOf(b.get()), pub_a = SpkiOf(a.get());
  // The uncompressed point is the last 97 bytes of both encodings.
  std::string point_a = pub_a.substr(pub_a.size() - 97), point_b = pub_b.substr(pub_b.size() - 97);
  size_t at = der_a.find(point_a);
  ASSERT_NE(at, std::string::npos);
  der_a.replace(at, 97, point_b);
  auto refused = P384PrivateKey::FromPkcs8Der(der_a);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("does not match"));
}

TEST(P384CrossCheck, CompressedSpkiIsReadAndPublishedUncompressed) {
  EvpKeyPtr evp = OpenSslKey();
  std::string uncompressed = SpkiOf(evp.get());
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(evp.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
            1);
  std::string compressed = SpkiOf(evp.get());
  ASSERT_LT(compressed.size(), uncompressed.size());
  CL_ASSERT_OK_AND_ASSIGN(P384PublicKey pub, P384PublicKey::FromSpkiDer(compressed));
  EXPECT_EQ(pub.SpkiDer(), uncompressed);
  EXPECT_TRUE(pub.Verify("m", OpenSslSign(evp.get(), "m")));
}

}  // namespace
}  // namespace cloudillo::crypto
