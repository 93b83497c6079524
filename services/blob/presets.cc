#include "presets.h"

#include <algorithm>

namespace cloudillo::blob {
namespace {

// §4.2 sizes. `pf` is always AVIF there; we make it WebP when this libvips cannot
// write AVIF (image_variants.cc decides), the descriptor says which.
constexpr ImageTier kPf{"vis.pf", 80, "avif"};
constexpr ImageTier kTn{"vis.tn", 256, "webp"};
constexpr ImageTier kSd{"vis.sd", 720, "webp"};
constexpr ImageTier kMd{"vis.md", 1280, "webp"};
constexpr ImageTier kHd{"vis.hd", 1920, "webp"};
constexpr ImageTier kXd{"vis.xd", 3840, "webp"};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

bool IsValidPresetName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

Preset PresetNamed(std::string_view name) {
  if (name == "orig-only") return {"orig-only", {}, true};
  if (name == "thumbnail-only") return {"thumbnail-only", {kTn}, false};
  if (name == "profile-picture") return {"profile-picture", {kPf, kTn, kSd}, false};
  if (name == "cover") return {"cover", {kTn, kSd, kMd, kHd}, false};
  if (name == "high_quality") return {"high_quality", {kTn, kSd, kMd, kHd, kXd}, false};
  if (name == "mobile") return {"mobile", {kTn, kSd, kMd}, false};
  if (name == "file" || name == "archive" || name == "apkg" || name == "site")
    return {std::string(name), {kTn, kSd, kMd, kHd}, true};
  if (name == "podcast" || name == "video") return {std::string(name), {kTn, kSd, kMd, kHd}, false};
  return {"default", {kTn, kSd, kMd, kHd}, false};
}

std::string ClassOf(std::string_view ct) {
  if (StartsWith(ct, "image/")) return "vis";
  if (StartsWith(ct, "video/")) return "vid";
  if (StartsWith(ct, "audio/")) return "aud";
  if (StartsWith(ct, "application/pdf")) return "doc";
  return "raw";
}

}  // namespace cloudillo::blob
