// Debian's Abseil 20220623 is built with its own absl::string_view, distinct from
// std::string_view. Our interfaces use std::string_view; this converts at the call
// sites of absl string utilities.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace cloudillo {
inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }
}  // namespace cloudillo
