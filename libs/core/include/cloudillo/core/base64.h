// Base64 codecs used on the wire (PROTOCOL §0.1).
//
// - Base64UrlEncode/Decode: RFC 4648 §5 alphabet without padding; every hash id,
//   cursor and JWT segment uses it. Decode rejects padding, whitespace and
//   non-canonical trailing bits (InvalidArgument).
// - Base64Encode/Decode: the standard alphabet with padding; public keys use it.
//   Decode requires correct padding (InvalidArgument otherwise).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo {

std::string Base64UrlEncode(std::string_view bytes);
absl::StatusOr<std::string> Base64UrlDecode(std::string_view text);

std::string Base64Encode(std::string_view bytes);
absl::StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace cloudillo
