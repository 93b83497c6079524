// Password hashing (DESIGN "Passwords", PROTOCOL §13.3).
//
// HashPassword: Argon2id, m = 19 MiB, t = 2, p = 1, PHC string format. Internal on
// allocation failure only.
// VerifyPassword: accepts our Argon2id hashes and bcrypt ($2a$/$2b$/$2y$) hashes of
// tenants imported from a reference node; `needs_rehash` tells the caller to store a
// fresh Argon2id hash after a successful bcrypt login. Unknown formats never match.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo::crypto {

struct PasswordParams {
  uint32_t memory_kib = 19 * 1024;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
};

absl::StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& p = {});

struct PasswordCheck {
  bool match = false;
  bool needs_rehash = false;
};
PasswordCheck VerifyPassword(std::string_view password, std::string_view stored_hash);

}  // namespace cloudillo::crypto
