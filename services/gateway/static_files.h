// The app host's web shell (PROTOCOL Appendix A "Static files"): files from the web
// root, `/apps/<name>/…` from `apps/<name>/`, SPA fallback to the right index.html
// for every path that is not a file (dots in the last segment included), and
// `/sw-<version>.js` served from `sw.js`. Paths are resolved inside the root only:
// `..`, NUL, backslashes and symlinks out of the root are refused.
//
// Text files go out compressed to clients that accept it: a precompressed `.br` or
// `.gz` sibling when the build shipped one (the official shell does), else a copy
// compressed once at high effort and kept in memory (bounded by bytes). Caching:
// HTML and the service worker revalidate every time; files of a versioned build
// directory (`assets-<version>/`) or with a content hash in their name are immutable
// for a year; anything else for an hour.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cloudillo/cache/lru_map.h"
#include "cloudillo/http/content_coding.h"
#include "cloudillo/http/server.h"

namespace cloudillo::gateway {

class StaticFiles {
 public:
  static constexpr size_t kCompressedBudgetBytes = size_t(64) << 20;
  static constexpr size_t kMaxCompressedFileBytes = size_t(16) << 20;

  explicit StaticFiles(std::string root);
  bool enabled() const { return !root_.empty(); }
  // nullopt when nothing (not even an index.html) can answer. Reads the disk: call it
  // off the I/O threads. Thread-safe.
  std::optional<http::Response> Serve(const http::Request& req);

 private:
  // Canonical path inside root of a regular file, from a path relative to the root
  // or (Inside) from an absolute one.
  std::optional<std::string> Resolve(const std::string& rel) const;
  std::optional<std::string> Inside(const std::string& full) const;
  // The body of `file` in `coding`, from a sibling or the kept copies; nullptr when
  // it cannot be had (too large, unreadable).
  std::shared_ptr<const std::string> Compressed(const std::string& file, http::ContentCoding coding);

  std::string root_;  // canonical, no trailing slash
  std::mutex mu_;
  cache::LruMap<std::string, std::shared_ptr<const std::string>> compressed_{4096};
  size_t compressed_bytes_ = 0;
};

const char* ContentTypeFor(const std::string& path);
// Cache-Control for a file at `rel` (relative to the web root).
const char* CacheControlFor(const std::string& rel, bool fallback);

}  // namespace cloudillo::gateway
