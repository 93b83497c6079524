// The provider's master key (DESIGN "Secrets at rest"): 32 random bytes, base64,
// from CLOUDILLO_MASTER_KEY or a file. Secrets at rest (tenant signing keys, token
// secrets) are sealed with AES-256-GCM under it; the associated data binds each
// ciphertext to its row (tenant and purpose) so rows cannot be swapped.
//
// FromBase64: InvalidArgument unless the text decodes to exactly 32 bytes.
// Open: DataLoss when the ciphertext, tag or associated data do not match.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo::crypto {

class MasterKey {
 public:
  static absl::StatusOr<MasterKey> FromBase64(std::string_view b64);

  // nonce(12) ‖ ciphertext ‖ tag(16)
  std::string Seal(std::string_view plaintext, std::string_view aad) const;
  absl::StatusOr<std::string> Open(std::string_view sealed, std::string_view aad) const;

  // A 32-byte key for one purpose (e.g. "api-key-hash"), so the master key itself
  // is only ever used for sealing.
  std::string Derive(std::string_view purpose) const;

 private:
  explicit MasterKey(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace cloudillo::crypto
