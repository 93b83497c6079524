// Hashes and MACs (OpenSSL 3 EVP). No I/O, thread-safe, never fails for valid input.
#pragma once

#include <string>
#include <string_view>

namespace cloudillo::crypto {

std::string Sha256(std::string_view bytes);                          // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view msg);  // 32 raw bytes
// Compares in time independent of where the inputs differ (lengths may leak).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// `<prefix>1~` + base64url(SHA-256(bytes)): content-addressed ids (PROTOCOL §0.1).
std::string ContentId(std::string_view prefix, std::string_view bytes);

}  // namespace cloudillo::crypto
