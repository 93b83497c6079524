// id_tags and host names (PROTOCOL §0.1, §1.2, §9.1, §13.13).
//
// CanonicalIdTag() turns any spelling of a DNS name into the stored form: the UTS-46
// U-label, lowercase, NFC, STD3 (LDH) rules. It returns InvalidArgument for anything
// that is not a valid DNS name (empty labels, `_`, `/`, `@`, `:`, whitespace, labels
// over 63 octets, names over 253 octets in A-label form). Thread-safe, allocates.
//
// ParseHost() classifies a request's Host header: `cl-o.<idTag>` (prefix matched
// case-insensitively) is the API host of <idTag>; any other valid name is an app host.
// A `:port` is stripped only when it is all digits, then one trailing dot.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo {

absl::StatusOr<std::string> CanonicalIdTag(std::string_view name);

// The A-label (punycode) form, for DNS, TLS and URLs.
absl::StatusOr<std::string> IdTagToAscii(std::string_view id_tag);

// The test a peer's `iss`/`aud` must pass (PROTOCOL §0.1, Appendix E21): `id_tag` is
// already its own canonical form (no upper case, A-label, trailing dot, `_`, ...) and
// its A-label is 5–62 characters long, as the reference's validate_id_tag requires.
// Rejected, never normalized: a token's id_tags are compared byte for byte.
bool IsCanonicalIdTag(std::string_view id_tag);

struct ParsedHost {
  enum class Kind { kApi, kApp, kInvalidApi, kInvalid };
  Kind kind = Kind::kInvalid;
  std::string id_tag;  // canonical tenant id_tag (kApi) or the canonical app host (kApp)
};

ParsedHost ParseHost(std::string_view host_header);

}  // namespace cloudillo
