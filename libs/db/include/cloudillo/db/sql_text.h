// Building parameter values for SQL patterns and arrays (never SQL text itself).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cloudillo::db {

// Escapes `%`, `_` and `\` so that `s` matches itself in LIKE (default escape `\`).
std::string EscapeLike(std::string_view s);
// A PostgreSQL text[] literal, each element quoted, for a `$n::text[]` parameter.
std::string TextArrayLiteral(const std::vector<std::string>& items);

}  // namespace cloudillo::db
