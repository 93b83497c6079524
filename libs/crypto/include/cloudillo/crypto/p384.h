// ECDSA P-384 keys for ES384 action tokens (PROTOCOL §1.5).
//
// Signatures are the JWS raw form r‖s, 96 bytes. Public keys are published as
// standard base64 of the DER SubjectPublicKeyInfo (160 characters); private keys
// are PKCS#8 DER. Verify() accepts any valid signature (it does not assume
// RFC 6979 determinism) and rejects every malformed one with false, never a crash.
//
// Sign and Verify run on Nettle (DESIGN.md "ES384 hot path"): OpenSSL only parses and
// writes the storage formats, once per key, and the key object keeps Nettle's form.
// Sign draws a fresh uniform nonce from the kernel for every signature. Both keys are
// immutable and cheap to copy (shared state); use them from any number of threads.
//
// Errors: FromPkcs8Der/FromSpkiDer return InvalidArgument for bytes that are not a
// P-384 key (including a PKCS#8 whose embedded public key does not belong to its
// private scalar); Generate returns Internal only if OpenSSL's key generation fails.
// Sign does not fail (its StatusOr stays for the callers written against it).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace cloudillo::crypto {

namespace nettle_p384 {
class Point;
}

struct EvpKeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
using EvpKeyPtr = std::unique_ptr<EVP_PKEY, EvpKeyDeleter>;

class P384PublicKey {
 public:
  static absl::StatusOr<P384PublicKey> FromSpkiDer(std::string_view der);
  static absl::StatusOr<P384PublicKey> FromBase64Spki(std::string_view b64);
  std::string SpkiDer() const;  // always the uncompressed point, 120 bytes
  std::string SpkiBase64() const;
  bool Verify(std::string_view msg, std::string_view raw_sig) const;

 private:
  friend class P384PrivateKey;
  explicit P384PublicKey(std::shared_ptr<const nettle_p384::Point> p) : point_(std::move(p)) {}
  std::shared_ptr<const nettle_p384::Point> point_;
};

class P384PrivateKey {
 public:
  static absl::StatusOr<P384PrivateKey> Generate();
  static absl::StatusOr<P384PrivateKey> FromPkcs8Der(std::string_view der);
  std::string Pkcs8Der() const;
  P384PublicKey PublicKey() const;
  absl::StatusOr<std::string> Sign(std::string_view msg) const;

 private:
  struct State;  // the OpenSSL key (for Pkcs8Der), Nettle's scalar and the public key
  static absl::StatusOr<P384PrivateKey> FromEvp(EvpKeyPtr key);
  explicit P384PrivateKey(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;
};

}  // namespace cloudillo::crypto
