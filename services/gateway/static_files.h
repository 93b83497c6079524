// The app host's web shell (PROTOCOL Appendix A "Static files"): files from the web
// root, `/apps/<name>/…` from `apps/<name>/`, SPA fallback to the right index.html
// for every path that is not a file (dots in the last segment included), and
// `/sw-<version>.js` served from `sw.js`. Paths are resolved inside the root only:
// `..`, NUL, backslashes and symlinks out of the root are refused.
#pragma once

#include <optional>
#include <string>

#include "cloudillo/http/server.h"

namespace cloudillo::gateway {

class StaticFiles {
 public:
  explicit StaticFiles(std::string root);
  bool enabled() const { return !root_.empty(); }
  // nullopt when nothing (not even an index.html) can answer.
  std::optional<http::Response> Serve(const http::Request& req) const;

 private:
  std::optional<std::string> Resolve(
      const std::string& rel) const;  // canonical path inside root, regular file
  std::string root_;                  // canonical, no trailing slash
};

const char* ContentTypeFor(const std::string& path);

}  // namespace cloudillo::gateway
