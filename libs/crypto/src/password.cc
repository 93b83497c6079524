#include "cloudillo/crypto/password.h"

#include <argon2.h>
#include <crypt.h>

#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "cloudillo/core/random.h"
#include "cloudillo/crypto/hash.h"

namespace cloudillo::crypto {

absl::StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& p) {
  std::string salt = RandomBytes(16);
  size_t len = argon2_encodedlen(p.iterations, p.memory_kib, p.parallelism, salt.size(), 32, Argon2_id);
  std::string out(len, '\0');
  int rc = argon2id_hash_encoded(p.iterations, p.memory_kib, p.parallelism, password.data(), password.size(),
                                 salt.data(), salt.size(), 32, out.data(), out.size());
  if (rc != ARGON2_OK) return absl::InternalError(argon2_error_message(rc));
  out.resize(std::strlen(out.c_str()));
  return out;
}

PasswordCheck VerifyPassword(std::string_view password, std::string_view stored) {
  PasswordCheck result;
  std::string hash(stored);
  if (absl::StartsWith(hash, "$argon2id$")) {
    result.match = argon2id_verify(hash.c_str(), password.data(), password.size()) == ARGON2_OK;
    return result;
  }
  if (absl::StartsWith(hash, "$2a$") || absl::StartsWith(hash, "$2b$") || absl::StartsWith(hash, "$2y$")) {
    if (password.find('\0') != std::string_view::npos) return result;
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* out = crypt_r(std::string(password).c_str(), hash.c_str(), data.get());
    result.match = out != nullptr && out[0] != '*' && ConstantTimeEqual(out, hash);
    result.needs_rehash = result.match;
    return result;
  }
  return result;
}

}  // namespace cloudillo::crypto
