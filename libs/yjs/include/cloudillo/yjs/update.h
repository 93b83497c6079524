// A C++ codec for Yjs updates (encoding v1, as y-protocols sends them), without a
// document model: what the collab service needs to answer a client's state vector
// with exactly the missing part of a document, to merge an update log into one
// snapshot, and to reject malformed updates before they reach storage or peers.
//
// The operations reproduce the `yjs` package's update module (mergeUpdates,
// diffUpdate, encodeStateVectorFromUpdate, mergeDeleteSets) byte for byte; the
// differential test in tests/yjs drives both with thousands of random histories.
//
// Errors: every function taking bytes returns InvalidArgument for input that is not a
// valid update (truncated varints, lengths past the end, unknown struct or content
// kinds, invalid UTF-8, zero-length structs, clocks beyond 2^53, varints lib0 reads
// as NaN or beyond 2^53 - 1, subdocuments whose options are null or undefined) and
// ResourceExhausted when a configured limit is exceeded. Nothing here allocates more
// than a small multiple of the input size, recurses without bound, or loops beyond
// the input. Thread-compatible: no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cloudillo::yjs {

struct Limits {
  size_t max_update_bytes = 256u << 20;
  size_t max_structs = 50'000'000;
  size_t max_delete_ranges = 50'000'000;
  int max_any_depth = 64;
};

struct Id {
  uint64_t client = 0;
  uint64_t clock = 0;
  bool operator==(const Id& o) const { return client == o.client && clock == o.clock; }
};

// Item content kinds (the low five bits of an item's info byte).
enum class ContentKind : uint8_t {
  kDeleted = 1,
  kJson = 2,
  kBinary = 3,
  kString = 4,
  kEmbed = 5,
  kFormat = 6,
  kType = 7,
  kAny = 8,
  kDoc = 9
};

struct Content {
  ContentKind kind = ContentKind::kDeleted;
  uint64_t deleted_len = 0;  // kDeleted
  uint64_t utf16_len = 0;    // kString: the length Yjs counts (UTF-16 code units)
  uint64_t type_ref = 0;     // kType: 0 array, 1 map, 2 text, 3 xml element, 4 fragment, 5 hook, 6 xml text
  std::string text;          // kString UTF-8, kBinary bytes, kEmbed JSON, kFormat key, kDoc guid, kType name
  std::string text2;         // kFormat JSON value, kDoc options (encoded `any`)
  std::vector<std::string> parts;  // kJson element texts, kAny encoded elements
  uint64_t Length() const;
};

enum class StructKind : uint8_t { kGC, kSkip, kItem };

struct Parent {
  enum class Kind : uint8_t { kNone, kKey, kId } kind = Kind::kNone;
  std::string key;  // root type name
  Id id;            // parent item
};

struct Struct {
  StructKind kind = StructKind::kGC;
  Id id;
  uint64_t length = 0;
  // Items only:
  std::optional<Id> origin, right_origin;
  Parent parent;  // only when there is neither origin nor right origin
  std::optional<std::string> parent_sub;
  bool parent_sub_flag = false;  // info bit 6 as read (kept for byte-identical re-encoding)
  Content content;
};

struct DeleteRange {
  uint64_t clock = 0, len = 0;
};
// Per client, in the order read; writers sort clients descending as Yjs does.
using DeleteSet = std::vector<std::pair<uint64_t, std::vector<DeleteRange>>>;

struct Update {
  std::vector<Struct> structs;  // in update order (client blocks)
  DeleteSet delete_set;
};

using StateVector = std::vector<std::pair<uint64_t, uint64_t>>;  // (client, clock)

absl::StatusOr<Update> DecodeUpdate(std::string_view bytes, const Limits& limits = {});
// Re-encodes a decoded update; byte-identical to a Yjs-produced input.
std::string EncodeUpdate(const Update& update);
absl::Status ValidateUpdate(std::string_view bytes, const Limits& limits = {});

// Y.mergeUpdates
absl::StatusOr<std::string> MergeUpdates(const std::vector<std::string_view>& updates,
                                         const Limits& limits = {});
// Y.diffUpdate(update, encodedStateVector)
absl::StatusOr<std::string> DiffUpdate(std::string_view update, std::string_view state_vector,
                                       const Limits& limits = {});
// Y.encodeStateVectorFromUpdate
absl::StatusOr<std::string> StateVectorFromUpdate(std::string_view update, const Limits& limits = {});

// Reads a state vector as Yjs does (bytes after the last entry are ignored). Clocks
// lib0 reads as numbers beyond 2^53 - 1 become kClockBeyondAll, clocks it reads as NaN
// become 0 (diffUpdate's `|| 0`), and entries whose client is not a safe integer are
// dropped (no valid update has such a client).
inline constexpr uint64_t kClockBeyondAll = ~uint64_t{0};
absl::StatusOr<StateVector> DecodeStateVector(std::string_view bytes);
std::string EncodeStateVector(const StateVector& sv);

// Yjs' mergeDeleteSets: union per client, ranges sorted and coalesced.
DeleteSet MergeDeleteSets(const std::vector<DeleteSet>& sets);
std::string EncodeDeleteSet(const DeleteSet& ds);

}  // namespace cloudillo::yjs
