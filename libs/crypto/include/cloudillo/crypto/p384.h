// ECDSA P-384 keys for ES384 action tokens (PROTOCOL §1.5).
//
// Signatures are the JWS raw form r‖s, 96 bytes. Public keys are published as
// standard base64 of the DER SubjectPublicKeyInfo (160 characters); private keys
// are PKCS#8 DER. Verify() accepts any valid signature (it does not assume
// RFC 6979 determinism) and rejects every malformed one with false, never a crash.
//
// Errors: FromPkcs8Der/FromSpkiDer return InvalidArgument for bytes that are not a
// P-384 key; Sign returns Internal only if OpenSSL fails.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace cloudillo::crypto {

struct EvpKeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
using EvpKeyPtr = std::unique_ptr<EVP_PKEY, EvpKeyDeleter>;

class P384PublicKey {
 public:
  static absl::StatusOr<P384PublicKey> FromSpkiDer(std::string_view der);
  static absl::StatusOr<P384PublicKey> FromBase64Spki(std::string_view b64);
  std::string SpkiDer() const;
  std::string SpkiBase64() const;
  bool Verify(std::string_view msg, std::string_view raw_sig) const;

 private:
  explicit P384PublicKey(EvpKeyPtr k) : key_(std::move(k)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

class P384PrivateKey {
 public:
  static absl::StatusOr<P384PrivateKey> Generate();
  static absl::StatusOr<P384PrivateKey> FromPkcs8Der(std::string_view der);
  std::string Pkcs8Der() const;
  P384PublicKey PublicKey() const;
  absl::StatusOr<std::string> Sign(std::string_view msg) const;

 private:
  explicit P384PrivateKey(EvpKeyPtr k) : key_(std::move(k)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace cloudillo::crypto
