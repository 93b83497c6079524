#include "cloudillo/crypto/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cloudillo/core/base64.h"

namespace cloudillo::crypto {

std::string Sha256(std::string_view bytes) {
  std::string out(32, '\0');
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(),
             nullptr);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view msg) {
  std::string out(32, '\0');
  unsigned int len = 32;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), reinterpret_cast<unsigned char*>(out.data()), &len);
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
