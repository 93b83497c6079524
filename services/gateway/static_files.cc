#include "static_files.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "route_table.h"

namespace cloudillo::gateway {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

const char* ContentTypeFor(const std::string& p) {
  struct {
    const char* ext;
    const char* type;
  } static const kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".ttf", "font/ttf"},
      {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  for (const auto& t : kTypes) {
    if (EndsWith(p, t.ext)) return t.type;
  }
  return "application/octet-stream";
}

StaticFiles::StaticFiles(std::string root) {
  if (root.empty()) return;
  char buf[PATH_MAX];
  if (realpath(root.c_str(), buf)) root_ = buf;
}

std::optional<std::string> StaticFiles::Resolve(const std::string& rel) const {
  if (rel.find('\0') != std::string::npos || rel.find('\\') != std::string::npos) return std::nullopt;
  std::string full = root_ + "/" + rel;
  char buf[PATH_MAX];
  if (!realpath(full.c_str(), buf)) return std::nullopt;
  std::string canonical = buf;
  if (canonical != root_ && canonical.compare(0, root_.size() + 1, root_ + "/") != 0) return std::nullopt;
  struct stat st;
  if (stat(canonical.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return canonical;
}

std::optional<http::Response> StaticFiles::Serve(const http::Request& req) const {
  if (!enabled()) return std::nullopt;
  auto decoded = PercentDecode(req.path, false);
  if (!decoded || decoded->empty() || (*decoded)[0] != '/') return std::nullopt;
  std::string rel = decoded->substr(1);
  // Refuse any `..` segment outright rather than trusting normalisation.
  if (rel == ".." || rel.rfind("../", 0) == 0 || rel.find("/../") != std::string::npos ||
      EndsWith(rel, "/..")) {
    return std::nullopt;
  }
  std::string index = "index.html";
  if (rel.rfind("apps/", 0) == 0) {
    size_t slash = rel.find('/', 5);
    std::string app = rel.substr(5, slash == std::string::npos ? std::string::npos : slash - 5);
    if (!app.empty()) index = "apps/" + app + "/index.html";
  }
  std::optional<std::string> file;
  if (!rel.empty() && rel.back() != '/') file = Resolve(rel);
  if (!file && rel.rfind("sw-", 0) == 0 && EndsWith(rel, ".js") && rel.find('/') == std::string::npos) {
    file = Resolve("sw.js");
  }
  bool fallback = false;
  if (!file) {
    file = Resolve(index);
    fallback = true;
  }
  if (!file) return std::nullopt;
  auto body = ReadFile(*file);
  if (!body) return std::nullopt;
  http::Response res;
  res.body = std::move(*body);
  res.Set("Content-Type", ContentTypeFor(*file));
  res.Set("Cache-Control", fallback || EndsWith(*file, ".html") || EndsWith(*file, "sw.js")
                               ? "no-cache"
                               : "public, max-age=3600");
  res.Set("X-Content-Type-Options", "nosniff");
  return res;
}

}  // namespace cloudillo::gateway
