// The Range request header (RFC 9110 §14.2), single ranges only, for
// GET /api/files/{id} and /api/files/variant/{id} (PROTOCOL §4.4).
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

}  // namespace cloudillo::blob
