// RTDB paths (PROTOCOL §6.4): segments alternate collection and document,
// `posts/<id>/comments/<id>`. An odd number of segments names a collection, an even
// number a document. Paths are keys of our own table and flow into LIKE-free range
// scans, so they are validated once here and never interpreted elsewhere.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "rtdb_limits.h"

namespace cloudillo::collab::rtdb {

// The canonical form of `path` (no leading or trailing '/'), or InvalidArgument: empty,
// too long or deep, an empty, "." or ".." segment, a control byte, or a segment over
// the limit.
absl::StatusOr<std::string> NormalizePath(std::string_view path, const Limits& limits);

bool IsDocumentPath(std::string_view path);          // even number of segments
std::string_view ParentPath(std::string_view path);  // "" for a top-level collection
std::string_view LastSegment(std::string_view path);

// Replaces every `${$name}` in `path` by refs[name] (create results of earlier
// operations in the same transaction).
template <typename Map>
std::string SubstituteRefs(std::string path, const Map& refs) {
  for (const auto& [name, id] : refs) {
    const std::string pattern = "${$" + name + "}";
    for (size_t at = path.find(pattern); at != std::string::npos; at = path.find(pattern, at + id.size()))
      path.replace(at, pattern.size(), id);
  }
  return path;
}

}  // namespace cloudillo::collab::rtdb
