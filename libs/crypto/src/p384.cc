#include "cloudillo/crypto/p384.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstring>
#include <optional>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/status_macros.h"
#include "nettle_p384.h"

namespace cloudillo::crypto {

void EvpKeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

struct P384PrivateKey::State {
  EvpKeyPtr evp;
  nettle_p384::Scalar scalar;
  P384PublicKey public_key;
};

namespace {

using nettle_p384::kFieldBytes;

// SubjectPublicKeyInfo for id-ecPublicKey / secp384r1 up to the uncompressed point's
// 0x04: every P-384 SPKI we write is this prefix, then x and y (120 bytes in all).
constexpr unsigned char kSpkiPrefix[] = {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                         0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                                         0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04};

bool IsP384(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return false;
  return std::strcmp(name, "secp384r1") == 0;
}

// One big-number parameter of `key` as 48 big-endian bytes; nullopt when the key has
// none or it does not fit. The buffer is wiped by the caller when it is secret.
std::optional<std::string> FixedParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return std::nullopt;
  std::string out(kFieldBytes, '\0');
  int n = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), int(kFieldBytes));
  BN_clear_free(bn);
  if (n != int(kFieldBytes)) return std::nullopt;
  return out;
}

absl::StatusOr<nettle_p384::Point> PointOf(EVP_PKEY* key) {
  auto x = FixedParam(key, OSSL_PKEY_PARAM_EC_PUB_X);
  auto y = FixedParam(key, OSSL_PKEY_PARAM_EC_PUB_Y);
  if (!x || !y) return absl::InvalidArgumentError("P-384 key has no public point");
  return nettle_p384::Point::FromXY(*x, *y);
}

}  // namespace

absl::StatusOr<P384PublicKey> P384PublicKey::FromSpkiDer(std::string_view der) {
  // The encoding every Cloudillo node publishes (named curve, uncompressed point) is
  // read directly: OpenSSL 3's decoder costs more than the ES384 verify itself (it looks
  // its decoders up under locks), and the inbox parses an issuer's key per token.
  // ecc_point_set checks the point is on the curve, as d2i_PUBKEY would.
  if (der.size() == sizeof kSpkiPrefix + 2 * kFieldBytes &&
      std::memcmp(der.data(), kSpkiPrefix, sizeof kSpkiPrefix) == 0) {
    auto point = nettle_p384::Point::FromXY(der.substr(sizeof kSpkiPrefix, kFieldBytes),
                                            der.substr(sizeof kSpkiPrefix + kFieldBytes));
    if (!point.ok()) return absl::InvalidArgumentError("not a P-384 SubjectPublicKeyInfo");
    return P384PublicKey(std::make_shared<const nettle_p384::Point>(*std::move(point)));
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EvpKeyPtr key(d2i_PUBKEY(nullptr, &p, long(der.size())));
  if (!key || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size() || !IsP384(key.get())) {
    return absl::InvalidArgumentError("not a P-384 SubjectPublicKeyInfo");
  }
  auto point = PointOf(key.get());
  if (!point.ok()) return absl::InvalidArgumentError("not a P-384 SubjectPublicKeyInfo");
  return P384PublicKey(std::make_shared<const nettle_p384::Point>(*std::move(point)));
}

absl::StatusOr<P384PublicKey> P384PublicKey::FromBase64Spki(std::string_view b64) {
  auto der = Base64Decode(b64);
  if (!der.ok()) return absl::InvalidArgumentError("public key is not standard base64");
  return FromSpkiDer(*der);
}

std::string P384PublicKey::SpkiDer() const {
  return std::string(reinterpret_cast<const char*>(kSpkiPrefix), sizeof kSpkiPrefix) + point_->XY();
}

std::string P384PublicKey::SpkiBase64() const { return Base64Encode(SpkiDer()); }

bool P384PublicKey::Verify(std::string_view msg, std::string_view raw_sig) const {
  return point_->Verify(msg, raw_sig);
}

absl::StatusOr<P384PrivateKey> P384PrivateKey::FromEvp(EvpKeyPtr key) {
  std::optional<std::string> d = FixedParam(key.get(), OSSL_PKEY_PARAM_PRIV_KEY);
  if (!d) return absl::InvalidArgumentError("not a P-384 private key");
  auto scalar = nettle_p384::Scalar::FromBytes(*d);
  OPENSSL_cleanse(d->data(), d->size());
  if (!scalar.ok()) return scalar.status();
  nettle_p384::Point derived = scalar->PublicPoint();
  // A PKCS#8 may carry a public key that is not d·G; publishing it would make every
  // signature fail at the peers, so such a key is refused rather than trusted.
  if (auto stored = PointOf(key.get()); stored.ok() && stored->XY() != derived.XY()) {
    return absl::InvalidArgumentError("PKCS#8 public key does not match its private key");
  }
  P384PublicKey pub(std::make_shared<const nettle_p384::Point>(std::move(derived)));
  return P384PrivateKey(
      std::make_shared<const State>(State{std::move(key), *std::move(scalar), std::move(pub)}));
}

absl::StatusOr<P384PrivateKey> P384PrivateKey::Generate() {
  EvpKeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  if (!key) return absl::InternalError("P-384 key generation failed");
  return FromEvp(std::move(key));
}

absl::StatusOr<P384PrivateKey> P384PrivateKey::FromPkcs8Der(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS8_PRIV_KEY_INFO* info = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, long(der.size()));
  if (!info) return absl::InvalidArgumentError("not PKCS#8");
  EvpKeyPtr key(EVP_PKCS82PKEY(info));
  PKCS8_PRIV_KEY_INFO_free(info);
  if (!key || !IsP384(key.get())) return absl::InvalidArgumentError("not a P-384 private key");
  return FromEvp(std::move(key));
}

std::string P384PrivateKey::Pkcs8Der() const {
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(state_->evp.get());
  if (!info) return {};
  unsigned char* buf = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(info, &buf);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(buf), size_t(len));
  OPENSSL_clear_free(buf, size_t(len));
  return out;
}

P384PublicKey P384PrivateKey::PublicKey() const { return state_->public_key; }

absl::StatusOr<std::string> P384PrivateKey::Sign(std::string_view msg) const {
  return state_->scalar.Sign(msg);
}

}  // namespace cloudillo::crypto
