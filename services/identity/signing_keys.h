// Tenant signing keys (PROTOCOL §1.5, §13.6): P-384, key id = UTC date `YYMMDD`,
// with a lowercase letter appended for a second key on one day, so the lexically
// greatest id is the newest and signs. Private keys are sealed under the master key
// with the tenant and key id as associated data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/crypto/master_key.h"
#include "cloudillo/crypto/p384.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/v1/access.pb.h"

namespace cloudillo::identity {

struct PublicKeyInfo {
  std::string key_id;
  std::string public_key;  // standard base64 SPKI
  std::optional<absl::Time> expires_at;
};

class SigningKeys {
 public:
  explicit SigningKeys(const crypto::MasterKey& master) : master_(master) {}

  // Creates the next key for `tn_id` inside `tx`; FailedPrecondition after 26 keys a day.
  absl::StatusOr<PublicKeyInfo> Create(db::Tx& tx, int64_t tn_id, absl::Time now) const;
  // Keys still valid at `now`, ascending by key id (the published order).
  absl::StatusOr<std::vector<PublicKeyInfo>> ListValid(db::Pool& pool, int64_t tn_id, absl::Time now) const;
  // Creates a new key and lets every older key expire `retire_after` from now.
  absl::StatusOr<PublicKeyInfo> Rotate(db::Pool& pool, int64_t tn_id, absl::Time now,
                                       absl::Duration retire_after) const;
  // The newest key's private half (for signing).
  absl::StatusOr<std::pair<std::string, crypto::P384PrivateKey>> Signer(db::Pool& pool, int64_t tn_id) const;

  // Seals again, under the keyring's current version, every private key sealed
  // under an older one (master-key rotation). `remaining` counts what could not be.
  absl::StatusOr<cloudillo::v1::ResealReply> Reseal(db::Pool& pool) const;

  static std::string KeyIdFor(absl::Time t, int index);

 private:
  const crypto::MasterKey& master_;
};

}  // namespace cloudillo::identity
