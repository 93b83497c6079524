#include "byte_range.h"

#include <string>

namespace cloudillo::blob {
namespace {

// Digits only (no sign, no spaces), at most 19 of them: no overflow of uint64_t.
bool ParseNumber(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  *out = v;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

RangeVerdict ParseRange(std::string_view header, uint64_t size, ByteRange* out) {
  header = Trim(header);
  if (header.empty()) return RangeVerdict::kWhole;
  // Another range unit is ignored (RFC 9110 §14.2: a server MAY ignore Range).
  if (header.size() < 6 || header.substr(0, 6) != "bytes=") return RangeVerdict::kWhole;
  std::string_view spec = Trim(header.substr(6));
  // Several ranges would need multipart/byteranges: serve the whole body instead.
  if (spec.find(',') != std::string_view::npos) return RangeVerdict::kWhole;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeVerdict::kUnsatisfiable;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // bytes=-N: the last N bytes
    if (!ParseNumber(b, &last) || last == 0 || size == 0) return RangeVerdict::kUnsatisfiable;
    uint64_t n = last < size ? last : size;
    *out = {size - n, n};
    return RangeVerdict::kPartial;
  }
  if (!ParseNumber(a, &first) || first >= size) return RangeVerdict::kUnsatisfiable;
  if (b.empty()) {
    last = size - 1;
  } else {
    if (!ParseNumber(b, &last) || last < first) return RangeVerdict::kUnsatisfiable;
    if (last >= size) last = size - 1;
  }
  *out = {first, last - first + 1};
  return RangeVerdict::kPartial;
}

bool IfNoneMatchHits(std::string_view header, std::string_view tag) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view p = header.substr(start, comma - start);
    while (!p.empty() && (p.front() == ' ' || p.front() == '\t')) p.remove_prefix(1);
    while (!p.empty() && (p.back() == ' ' || p.back() == '\t')) p.remove_suffix(1);
    if (p == "*") return true;
    if (p.size() > 2 && p.substr(0, 2) == "W/") p.remove_prefix(2);
    if (p.size() >= 2 && p.front() == '"' && p.back() == '"') p = p.substr(1, p.size() - 2);
    if (!p.empty() && p == tag) return true;
    start = comma + 1;
  }
  return false;
}

}  // namespace cloudillo::blob
