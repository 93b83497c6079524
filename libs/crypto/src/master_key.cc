#include "cloudillo/crypto/master_key.h"

#include <openssl/evp.h>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/random.h"
#include "cloudillo/crypto/hash.h"

namespace cloudillo::crypto {
namespace {
constexpr size_t kNonce = 12, kTag = 16;
const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
}  // namespace

absl::StatusOr<MasterKey> MasterKey::FromBase64(std::string_view b64) {
  auto key = Base64Decode(b64);
  if (!key.ok() || key->size() != 32) {
    return absl::InvalidArgumentError(
        "master key must be 32 random bytes in standard base64 (openssl rand -base64 32)");
  }
  return MasterKey(*std::move(key));
}

std::string MasterKey::Seal(std::string_view plaintext, std::string_view aad) const {
  std::string out = RandomBytes(kNonce);
  out.resize(kNonce + plaintext.size() + kTag);
  unsigned char* ct = reinterpret_cast<unsigned char*>(out.data()) + kNonce;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, U(key_), U(out));
  EVP_EncryptUpdate(ctx, nullptr, &len, U(aad), int(aad.size()));
  EVP_EncryptUpdate(ctx, ct, &len, U(plaintext), int(plaintext.size()));
  EVP_EncryptFinal_ex(ctx, ct + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTag, ct + plaintext.size());
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

absl::StatusOr<std::string> MasterKey::Open(std::string_view sealed, std::string_view aad) const {
  if (sealed.size() < kNonce + kTag) return absl::DataLossError("sealed secret too short");
  size_t n = sealed.size() - kNonce - kTag;
  std::string out(n, '\0');
  std::string tag(sealed.substr(kNonce + n));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, U(key_), U(sealed)) == 1 &&
            EVP_DecryptUpdate(ctx, nullptr, &len, U(aad), int(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                              U(sealed.substr(kNonce)), int(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return absl::DataLossError("sealed secret does not open under this master key");
  return out;
}

std::string MasterKey::Derive(std::string_view purpose) const { return HmacSha256(key_, purpose); }

}  // namespace cloudillo::crypto
