// libFuzzer target for token parsing: compact JWS splitting and header checks,
// HS256 and access-token verification, ES384 verification with a fixed key, and
// P-384 key decoding. No input may crash or verify without the key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cloudillo/crypto/access_token.h"
#include "cloudillo/crypto/jws.h"
#include "cloudillo/crypto/p384.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  static const auto* key =
      new cloudillo::crypto::P384PrivateKey(*cloudillo::crypto::P384PrivateKey::Generate());
  (void)cloudillo::crypto::DecodeUnverified(in);
  auto secret = [](std::string_view) -> std::optional<std::string> { return std::string("fuzz-secret"); };
  // A fuzzer cannot find an HMAC or an ECDSA signature: passing means a forgery.
  if (cloudillo::crypto::VerifyHs256(in, secret).ok()) std::abort();
  (void)cloudillo::crypto::VerifyAccessToken(in, "alice.example.com", absl::FromUnixSeconds(1700000000),
                                             secret);
  if (cloudillo::crypto::VerifyEs384(in, key->PublicKey()).ok()) std::abort();
  (void)cloudillo::crypto::P384PublicKey::FromSpkiDer(in);
  (void)cloudillo::crypto::P384PublicKey::FromBase64Spki(in);
  (void)cloudillo::crypto::P384PrivateKey::FromPkcs8Der(in);
  return 0;
}
