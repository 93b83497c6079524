#include "static_files.h"

#include <sys/stat.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "route_table.h"

namespace cloudillo::gateway {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A content hash in a file name: a part of the name (between '-' or '.', not the first
// and not the extension) of 8 to 64 letters, digits or '_' that mixes letters and
// digits, as bundlers write them (`index-B7x2Kq9a.js`, `main.4f3e2a1b.chunk.js`).
bool HashedName(std::string_view name) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.' || name[i] == '-') {
      parts.push_back(name.substr(start, i - start));
      start = i + 1;
    }
  }
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (p.size() < 8 || p.size() > 64) continue;
    bool letter = false, digit = false, other = false;
    for (char c : p) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        digit = true;
      } else if (std::isalpha(static_cast<unsigned char>(c))) {
        letter = true;
      } else if (c != '_') {
        other = true;
      }
    }
    if (letter && digit && !other) return true;
  }
  return false;
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

const char* CacheControlFor(const std::string& rel, bool fallback) {
  if (fallback || EndsWith(rel, ".html")) return "no-cache";
  std::string_view name =
      std::string_view(rel).substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
  if (name == "sw.js" || (name.rfind("sw-", 0) == 0 && EndsWith(rel, ".js"))) return "no-cache";
  // The official shell builds into `assets-<version>/`: a new release is a new path.
  bool versioned_dir =
      rel.rfind("assets-", 0) == 0 && rel.find('/') > 7 && rel.find('/') != std::string::npos;
  if (versioned_dir || HashedName(name)) return "public, max-age=31536000, immutable";
  return "public, max-age=3600";
}

StaticFiles::StaticFiles(std::string root) {
  if (root.empty()) return;
  char buf[PATH_MAX];
  if (realpath(root.c_str(), buf)) root_ = buf;
}

std::optional<std::string> StaticFiles::Resolve(const std::string& rel) const {
  if (rel.find('\0') != std::string::npos || rel.find('\\') != std::string::npos) return std::nullopt;
  return Inside(root_ + "/" + rel);
}

std::optional<std::string> StaticFiles::Inside(const std::string& full) const {
  char buf[PATH_MAX];
  if (!realpath(full.c_str(), buf)) return std::nullopt;
  std::string canonical = buf;
  if (canonical != root_ && canonical.compare(0, root_.size() + 1, root_ + "/") != 0) return std::nullopt;
  struct stat st;
  if (stat(canonical.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return canonical;
}

std::shared_ptr<const std::string> StaticFiles::Compressed(const std::string& file,
                                                           http::ContentCoding coding) {
  // A sibling the build compressed (at its highest effort) costs nothing here.
  if (auto sibling = Inside(file + (coding == http::ContentCoding::kBrotli ? ".br" : ".gz"))) {
    if (auto body = ReadFile(*sibling)) return std::make_shared<const std::string>(std::move(*body));
  }
  struct stat st;
  if (stat(file.c_str(), &st) != 0 || size_t(st.st_size) > kMaxCompressedFileBytes ||
      size_t(st.st_size) < http::kMinCompressBytes) {
    return nullptr;
  }
  // The key changes with the file: a new deployment is never answered from an old copy.
  std::string key = file + '\0' + std::to_string(st.st_mtim.tv_sec) + '.' +
                    std::to_string(st.st_mtim.tv_nsec) + '.' + std::to_string(st.st_size) + '.' +
                    http::CodingName(coding);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto* hit = compressed_.Find(key)) return *hit;
  }
  auto body = ReadFile(file);
  if (!body) return nullptr;
  auto encoded = http::Encode(coding, *body, http::Effort::kBest);
  if (!encoded.ok()) return nullptr;
  auto kept = std::make_shared<const std::string>(std::move(*encoded));
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* old = compressed_.Find(key)) return *old;  // another thread was quicker
  while (compressed_bytes_ + kept->size() > kCompressedBudgetBytes && compressed_.Oldest()) {
    compressed_bytes_ -= (*compressed_.Oldest())->size();
    compressed_.EraseOldest();
  }
  if (compressed_.size() == compressed_.capacity()) {
    compressed_bytes_ -= (*compressed_.Oldest())->size();  // Put will evict it
  }
  compressed_.Put(key, kept);
  compressed_bytes_ += kept->size();
  return kept;
}

std::optional<http::Response> StaticFiles::Serve(const http::Request& req) {
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
  http::Response res;
  const char* type = ContentTypeFor(*file);
  bool compressed = false;
  if (http::CompressibleType(type)) {
    res.Set("Vary", "accept-encoding");
    auto coding = http::NegotiateCoding(req.Header("accept-encoding"), http::Preference::kSmallest);
    if (coding != http::ContentCoding::kIdentity) {
      if (auto body = Compressed(*file, coding)) {
        res.body = *body;
        res.Set("Content-Encoding", http::CodingName(coding));
        compressed = true;
      }
    }
  }
  if (!compressed) {
    auto body = ReadFile(*file);
    if (!body) return std::nullopt;
    res.body = std::move(*body);
  }
  res.Set("Content-Type", type);
  res.Set("Cache-Control", CacheControlFor(file->substr(root_.size() + 1), fallback));
  res.Set("X-Content-Type-Options", "nosniff");
  return res;
}

}  // namespace cloudillo::gateway
