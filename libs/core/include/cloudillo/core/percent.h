// Percent-decoding of URL paths and query strings (RFC 3986). Returns nullopt for a
// truncated or non-hex escape; `plus_is_space` applies form encoding (queries).
// The result may contain any byte, NUL and invalid UTF-8 included: callers validate.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cloudillo {

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace cloudillo
