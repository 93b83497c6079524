// The provider's master keyring (DESIGN "Secrets at rest"). Secrets at rest (tenant
// signing keys, token secrets) are sealed with AES-256-GCM under it; the caller's
// associated data binds each sealed value to its row (tenant and purpose) so rows cannot
// be swapped. The keyring holds numbered versions so the provider can rotate: new values
// are sealed under the highest version, every version in the keyring still opens.
//
// Keyring text (CLOUDILLO_MASTER_KEY or its file): entries separated by newlines or
// commas, each `<version>:<base64 of 32 bytes>` with a positive decimal version, or a
// bare base64 key meaning version 1 (the format before versions, so a deployment's
// existing key keeps working). Blank entries are skipped. Rotating means prepending
// `2:<openssl rand -base64 32>` and keeping version 1 until every value is resealed.
//
// Sealed layout (format 1), all integers big-endian:
//
//   "CLK" 0x01 ‖ version(u32) ‖ nonce(12) ‖ ciphertext ‖ tag(16)
//
// The 8-byte header is also GCM's associated data, ahead of the caller's (header ‖ aad;
// the header has a fixed length so the split is unambiguous): changing the version or
// format byte breaks authentication. In base64, every value under a version < 65536
// starts with "Q0xLAQAA". A value without the header is the legacy layout
// `nonce(12) ‖ ciphertext ‖ tag(16)` under version 1 with only the caller's aad. A legacy
// nonce starts with the magic with probability 2^-32; Open therefore falls back to the
// legacy reading whenever the header reading fails, and GCM makes a false success of
// either reading impossible.
//
// Status codes:
//   FromText, FromBase64: InvalidArgument for an empty keyring, a malformed entry, bad
//     base64, a key that is not 32 bytes, a repeated version or a repeated key. Messages
//     name the entry (1-based) and never contain key material.
//   Seal: InvalidArgument when plaintext or aad exceed INT_MAX bytes; Internal when
//     OpenSSL fails.
//   Open: FailedPrecondition when the value names a version the keyring lacks (or is
//     legacy and the keyring has no version 1): the operator removed a key too early;
//     DataLoss when it does not authenticate (wrong aad, tampered, truncated).
//
// Immutable after construction; every method is const and thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo::crypto {

class MasterKey {
 public:
  static absl::StatusOr<MasterKey> FromText(std::string_view text);
  // One bare base64 key, as version 1.
  static absl::StatusOr<MasterKey> FromBase64(std::string_view b64);

  // Seals under current_version().
  absl::StatusOr<std::string> Seal(std::string_view plaintext, std::string_view aad) const;
  absl::StatusOr<std::string> Open(std::string_view sealed, std::string_view aad) const;

  // The highest version in the keyring: what Seal uses.
  int current_version() const { return keys_.rbegin()->first; }
  // The version named by a sealed value's header; 0 for the legacy layout (version 1).
  // Reads the header only: it does not authenticate the value.
  static int SealedVersion(std::string_view sealed);
  // True when `sealed` was not sealed under current_version() (legacy counts as 1):
  // what `cloudillo-admin rotate-master-key` reseals before an old version is removed.
  bool NeedsReseal(std::string_view sealed) const;

  // A 32-byte key for one purpose (e.g. "access.api_keys.hash"): HMAC-SHA256 of the
  // purpose under version 1 if the keyring has it, else under the lowest version. Not the
  // current version: a derived key (such as the API-key hash key) must not change when
  // the master key rotates, or every stored hash would stop matching. Removing version 1
  // therefore changes derived keys; uses that must survive that belong in a sealed value.
  std::string Derive(std::string_view purpose) const;

 private:
  explicit MasterKey(std::map<int, std::string> keys) : keys_(std::move(keys)) {}
  absl::StatusOr<std::string> OpenWith(int version, std::string_view header, std::string_view body,
                                       std::string_view aad) const;

  std::map<int, std::string> keys_;  // version -> 32 raw bytes; never empty
};

}  // namespace cloudillo::crypto
