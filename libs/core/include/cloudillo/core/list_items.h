// Separated lists with optional spaces and tabs around each item: HTTP's `#list`
// headers and their `;` parameters (RFC 9110 §5.6.1, OWS), and the comma-separated
// lists stored in profiles.
#pragma once

#include <string_view>

namespace cloudillo {

inline std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls `fn(item)` for each `sep`-separated item of `list`, trimmed; empty items too.
template <class Fn>
void ForEachListItem(std::string_view list, char sep, Fn fn) {
  while (true) {
    size_t at = list.find(sep);
    fn(TrimSpaces(list.substr(0, at)));
    if (at == std::string_view::npos) return;
    list.remove_prefix(at + 1);
  }
}

}  // namespace cloudillo
