#include "cloudillo/crypto/p384.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstring>

#include "cloudillo/core/base64.h"

namespace cloudillo::crypto {

void EvpKeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

namespace {

constexpr size_t kCoordLen = 48;

bool IsP384(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return false;
  return std::strcmp(name, "secp384r1") == 0;
}

template <typename F>
std::string I2d(F f) {
  unsigned char* buf = nullptr;
  int len = f(&buf);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(buf), size_t(len));
  OPENSSL_free(buf);
  return out;
}

}  // namespace

absl::StatusOr<P384PublicKey> P384PublicKey::FromSpkiDer(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EvpKeyPtr key(d2i_PUBKEY(nullptr, &p, long(der.size())));
  if (!key || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size() || !IsP384(key.get())) {
    return absl::InvalidArgumentError("not a P-384 SubjectPublicKeyInfo");
  }
  return P384PublicKey(std::move(key));
}

absl::StatusOr<P384PublicKey> P384PublicKey::FromBase64Spki(std::string_view b64) {
  auto der = Base64Decode(b64);
  if (!der.ok()) return absl::InvalidArgumentError("public key is not standard base64");
  return FromSpkiDer(*der);
}

std::string P384PublicKey::SpkiDer() const {
  return I2d([&](unsigned char** b) { return i2d_PUBKEY(key_.get(), b); });
}

std::string P384PublicKey::SpkiBase64() const { return Base64Encode(SpkiDer()); }

bool P384PublicKey::Verify(std::string_view msg, std::string_view raw_sig) const {
  if (raw_sig.size() != 2 * kCoordLen) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw_sig.data()), kCoordLen, nullptr);
  BIGNUM* s =
      BN_bin2bn(reinterpret_cast<const unsigned char*>(raw_sig.data()) + kCoordLen, kCoordLen, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  std::string der = I2d([&](unsigned char** b) { return i2d_ECDSA_SIG(sig, b); });
  ECDSA_SIG_free(sig);
  if (der.empty()) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha384(), nullptr, key_.get()) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

absl::StatusOr<P384PrivateKey> P384PrivateKey::Generate() {
  EvpKeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  if (!key) return absl::InternalError("P-384 key generation failed");
  return P384PrivateKey(std::move(key));
}

absl::StatusOr<P384PrivateKey> P384PrivateKey::FromPkcs8Der(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS8_PRIV_KEY_INFO* info = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, long(der.size()));
  if (!info) return absl::InvalidArgumentError("not PKCS#8");
  EvpKeyPtr key(EVP_PKCS82PKEY(info));
  PKCS8_PRIV_KEY_INFO_free(info);
  if (!key || !IsP384(key.get())) return absl::InvalidArgumentError("not a P-384 private key");
  return P384PrivateKey(std::move(key));
}

std::string P384PrivateKey::Pkcs8Der() const {
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(key_.get());
  if (!info) return {};
  std::string out = I2d([&](unsigned char** b) { return i2d_PKCS8_PRIV_KEY_INFO(info, b); });
  PKCS8_PRIV_KEY_INFO_free(info);
  return out;
}

P384PublicKey P384PrivateKey::PublicKey() const {
  std::string der = I2d([&](unsigned char** b) { return i2d_PUBKEY(key_.get(), b); });
  return *P384PublicKey::FromSpkiDer(der);
}

absl::StatusOr<std::string> P384PrivateKey::Sign(std::string_view msg) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string der;
  bool ok =
      ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, key_.get()) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  if (ok) {
    der.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                        reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
    der.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("ES384 signing failed");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(der.size()));
  if (!sig) return absl::InternalError("ES384 signature decode failed");
  std::string raw(2 * kCoordLen, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), kCoordLen);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + kCoordLen, kCoordLen);
  ECDSA_SIG_free(sig);
  return raw;
}

}  // namespace cloudillo::crypto
