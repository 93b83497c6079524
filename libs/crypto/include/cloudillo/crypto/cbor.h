// A small, bounded CBOR reader (RFC 8949) for what WebAuthn sends: attestation
// objects, COSE keys and authenticator extensions. Its input comes straight from an
// unauthenticated client, so it decodes into a tree under hard limits:
//   - definite lengths only: indefinite-length items (additional info 31) and the
//     reserved additional infos 28-30 are refused (CTAP2 encodes canonically);
//   - a length or item count larger than the bytes left is refused before anything is
//     allocated (each item needs at least one byte);
//   - nesting deeper than `max_depth` and more than `max_items` items in all are refused;
//   - tags (major type 6) are refused: WebAuthn never uses them;
//   - map keys may repeat in the input, but Find() then returns the first; callers that
//     care use HasDuplicateKeys().
// Errors are InvalidArgument with a message naming the problem and offset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cloudillo::crypto {

struct CborMapEntry;

struct CborValue {
  enum class Type {
    kUnsigned,
    kNegative,
    kBytes,
    kText,
    kArray,
    kMap,
    kFalse,
    kTrue,
    kNull,
    kUndefined,
    kFloat
  };
  Type type = Type::kNull;
  uint64_t number = 0;            // kUnsigned: the value; kNegative: -1 - value; kFloat: raw bits
  std::string bytes;              // kBytes, kText
  std::vector<CborValue> items;   // kArray
  std::vector<CborMapEntry> map;  // kMap, in input order (a vector may hold an incomplete type)

  // The integer value of kUnsigned or kNegative when it fits in int64_t.
  std::optional<int64_t> AsInt() const;
  // Map lookups by integer key (COSE) or text key (attestation objects); nullptr when
  // absent or when this is not a map.
  const CborValue* Find(int64_t key) const;
  const CborValue* Find(std::string_view key) const;
  bool IsBytes() const { return type == Type::kBytes; }
  bool IsText() const { return type == Type::kText; }
  bool IsMap() const { return type == Type::kMap; }
};

struct CborMapEntry {
  CborValue key;
  CborValue value;
};

struct CborLimits {
  int max_depth = 16;
  size_t max_items = 4096;
};

// Decodes one item from the start of `in`; `*consumed` (when given) receives its
// length, so a caller can read items that follow each other (authenticator data puts
// extensions after the credential key). Without `consumed`, trailing bytes are an error.
absl::StatusOr<CborValue> DecodeCbor(std::string_view in, size_t* consumed = nullptr, CborLimits limits = {});

// Canonical encoding of small values, for tests and tools that build WebAuthn data.
std::string EncodeCbor(const CborValue& v);

}  // namespace cloudillo::crypto
