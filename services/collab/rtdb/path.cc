#include "path.h"

namespace cloudillo::collab::rtdb {

absl::StatusOr<std::string> NormalizePath(std::string_view path, const Limits& limits) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  if (path.size() > limits.max_path_bytes) return absl::InvalidArgumentError("path too long");
  size_t segments = 0;
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    start = end + 1;
    if (++segments > limits.max_path_segments) return absl::InvalidArgumentError("path too deep");
    if (seg.empty() || seg == "." || seg == "..") return absl::InvalidArgumentError("bad path segment");
    if (seg.size() > limits.max_segment_bytes) return absl::InvalidArgumentError("path segment too long");
    for (unsigned char c : seg)
      if (c < 0x20 || c == 0x7f) return absl::InvalidArgumentError("control character in path");
  }
  return std::string(path);
}

bool IsDocumentPath(std::string_view path) {
  size_t slashes = 0;
  for (char c : path) slashes += c == '/';
  return slashes % 2 == 1;
}

std::string_view ParentPath(std::string_view path) {
  size_t at = path.rfind('/');
  return at == std::string_view::npos ? std::string_view() : path.substr(0, at);
}

std::string_view LastSegment(std::string_view path) {
  size_t at = path.rfind('/');
  return at == std::string_view::npos ? path : path.substr(at + 1);
}

}  // namespace cloudillo::collab::rtdb
