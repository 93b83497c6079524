// Image variants with libvips (PROTOCOL §4.2): from an uploaded image in a spool file,
// the tiers of its preset, each no larger than the original, written to spool files of
// their own. libvips decodes with shrink-on-load and streams, so memory stays bounded
// by the output size, not the input; images over kMaxPixels are not decoded at all.
//
// Call InitImaging() once per process before any other function here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "blob_store.h"
#include "presets.h"

namespace cloudillo::blob {

// Blocks libvips' untrusted loaders (ImageMagick, Matlab, …), turns off its operation
// cache and limits its threads. False when libvips cannot start.
bool InitImaging();

inline constexpr int64_t kMaxPixels = 100'000'000;

struct RenderedVariant {
  std::string name;     // vis.tn, …
  std::string format;   // webp, avif
  std::string blob_id;  // b1~ of its bytes
  int width = 0, height = 0;
  std::unique_ptr<SpoolFile> file;
};

struct ImageInfo {
  int width = 0, height = 0;
};

// The dimensions of the image in `path`; InvalidArgument when libvips cannot read it.
absl::StatusOr<ImageInfo> ProbeImage(const std::string& path);

// The preset's tiers for the image in `path` (already probed as `info`). A tier whose
// size is not below the original's longer edge is skipped, except the smallest one,
// so that every image has a thumbnail. Errors: Internal (E-IMG-PROCFAIL).
absl::StatusOr<std::vector<RenderedVariant>> RenderVariants(const std::string& path, const ImageInfo& info,
                                                            const std::vector<ImageTier>& tiers,
                                                            const std::string& spool_dir);

}  // namespace cloudillo::blob
