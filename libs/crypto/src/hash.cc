#include "cloudillo/crypto/hash.h"

#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <openssl/crypto.h>

#include "cloudillo/core/base64.h"

namespace cloudillo::crypto {

// Nettle rather than OpenSSL 3: its one-shot EVP_Digest and HMAC look the algorithm
// up in the provider registry on every call, which was 10 % of the gateway's CPU on
// cached downloads (one HMAC per bearer token); Nettle's contexts live on the stack.
std::string Sha256(std::string_view bytes) {
  std::string out(SHA256_DIGEST_SIZE, '\0');
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, bytes.size(), reinterpret_cast<const uint8_t*>(bytes.data()));
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view msg) {
  std::string out(SHA256_DIGEST_SIZE, '\0');
  hmac_sha256_ctx ctx;
  hmac_sha256_set_key(&ctx, key.size(), reinterpret_cast<const uint8_t*>(key.data()));
  hmac_sha256_update(&ctx, msg.size(), reinterpret_cast<const uint8_t*>(msg.data()));
  hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ContentId(std::string_view prefix, std::string_view bytes) {
  std::string id(prefix);
  id += "1~";
  id += Base64UrlEncode(Sha256(bytes));
  return id;
}

}  // namespace cloudillo::crypto
