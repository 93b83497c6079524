// The client-supplied parts of a ref (PROTOCOL §8 "Refs", §3.6): ids, access levels
// and the bodies of POST and PATCH /api/refs. Pure functions, no I/O, so the hostile
// input tests and the fuzz target run them without a database.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo::access {

inline constexpr std::string_view kShareFileRef = "share.file";

// A ref id as we mint them (24 of [0-9A-Za-z]) or as another server might: 1-64 of
// [0-9A-Za-z_-]. Anything else is not looked up at all.
bool IsRefId(std::string_view id);
// A file id as a `file:<id>:X` scope may carry it (the rule of the scope check).
bool IsScopeFileId(std::string_view id);
// "read"/"R" -> 'R', "comment"/"C" -> 'C', "write"/"W" -> 'W'; 0 otherwise. A link
// never carries admin: it could not exercise it through a scoped token anyway.
char ParseAccessLevel(std::string_view s);
// 'R' -> "read", 'C' -> "comment", anything else -> "write".
const char* AccessLevelName(char c);

// A field a PATCH may leave alone, clear (null) or set.
template <typename T>
struct Patch {
  bool present = false;
  std::optional<T> value;  // unset with `present`: cleared
};

struct RefCreate {
  std::string type;
  std::optional<std::string> description;
  std::optional<int64_t> expires_at;  // Unix seconds
  std::optional<int64_t> count;       // nullopt: unlimited uses
  std::string resource_id;
  char access_level = 'R';
  std::optional<std::string> params;
};

struct RefUpdate {
  Patch<std::string> description;
  Patch<int64_t> expires_at;
  Patch<int64_t> count;
  std::optional<char> access_level;
  bool Empty() const {
    return !description.present && !expires_at.present && !count.present && !access_level;
  }
};

// Whether a ref whose `expires_at` reads `expires_at` (as kRefColumns prints it,
// "YYYY-MM-DDTHH:MM:SSZ"; empty: never) is past at Unix second `now`. Unparsable
// text counts as expired: a link whose end cannot be read is not honoured.
bool RefExpired(std::string_view expires_at, int64_t now);

// POST /api/refs. `count` omitted is one use, null unlimited (the reference's
// default); `expiresAt` (or `expires_at`) is Unix seconds or RFC 3339, in the future.
absl::StatusOr<RefCreate> ParseRefCreate(const nlohmann::json& body, int64_t now);
// PATCH /api/refs/{refId}: at least one field; a count of 0 is a revocation in
// disguise and is refused (DELETE does that).
absl::StatusOr<RefUpdate> ParseRefUpdate(const nlohmann::json& body, int64_t now);

}  // namespace cloudillo::access
