// The Range (RFC 9110 §14.2, single ranges only) and If-None-Match (§13.1.2) request
// headers, for GET /api/files/{id}, /api/files/variant/{id} and the descriptor
// (PROTOCOL §4.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cloudillo::blob {

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;  // bytes from `first`
};

enum class RangeVerdict {
  kWhole,          // no Range, another unit, or several ranges: the whole body, 200
  kPartial,        // one satisfiable range: 206
  kUnsatisfiable,  // a malformed or unsatisfiable bytes= range: 416
};

// `header` as sent; `size` the length of the representation.
RangeVerdict ParseRange(std::string_view header, uint64_t size, ByteRange* out);

// True when If-None-Match `header` names `tag` (given unquoted) or is `*`. The weak
// comparison RFC 9110 asks for on GET: a `W/` prefix is ignored, and a list matches
// when any member does. Unquoted members match too (some peers send them bare).
bool IfNoneMatchHits(std::string_view header, std::string_view tag);

}  // namespace cloudillo::blob
