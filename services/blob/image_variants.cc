#include "image_variants.h"

#include <vips/vips.h>

#include <algorithm>

#include "file_ids.h"

namespace cloudillo::blob {
namespace {

struct ImageRef {
  VipsImage* p = nullptr;
  ~ImageRef() {
    if (p) g_object_unref(p);
  }
};

std::string VipsError() {
  std::string e = vips_error_buffer();
  vips_error_clear();
  return e;
}

bool CanWriteAvif() {
  static const bool can = vips_type_find("VipsOperation", "heifsave_buffer") != 0;
  return can;
}

}  // namespace

bool InitImaging() {
  if (VIPS_INIT("cloudillo-blob") != 0) return false;
  vips_cache_set_max(0);    // no cached operations: memory follows the requests
  vips_concurrency_set(1);  // the worker pool is the parallelism
#if VIPS_MAJOR_VERSION > 8 || (VIPS_MAJOR_VERSION == 8 && VIPS_MINOR_VERSION >= 13)
  vips_block_untrusted_set(TRUE);  // only the loaders fuzzed for hostile input
#endif
  return true;
}

absl::StatusOr<ImageInfo> ProbeImage(const std::string& path) {
  ImageRef in;
  in.p = vips_image_new_from_file(path.c_str(), "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  if (!in.p) return absl::InvalidArgumentError("not a readable image: " + VipsError());
  return ImageInfo{vips_image_get_width(in.p), vips_image_get_height(in.p)};
}

absl::StatusOr<std::vector<RenderedVariant>> RenderVariants(const std::string& path, const ImageInfo& info,
                                                            const std::vector<ImageTier>& tiers,
                                                            const std::string& spool_dir) {
  std::vector<RenderedVariant> out;
  if (tiers.empty()) return out;
  if (int64_t(info.width) * info.height > kMaxPixels || info.width <= 0 || info.height <= 0)
    return absl::InvalidArgumentError("image too large to render variants");
  int longer = std::max(info.width, info.height);
  int smallest = tiers.front().px;
  for (const ImageTier& t : tiers) smallest = std::min(smallest, t.px);
  for (const ImageTier& t : tiers) {
    if (t.px >= longer && t.px != smallest) continue;
    ImageRef thumb;
    if (vips_thumbnail(path.c_str(), &thumb.p, t.px, "height", t.px, "size", VIPS_SIZE_DOWN, nullptr) != 0)
      return absl::InternalError("thumbnail failed: " + VipsError());
    std::string format = t.format;
    if (format == "avif" && !CanWriteAvif()) format = "webp";
    void* buf = nullptr;
    size_t len = 0;
    int rc = format == "avif"
                 ? vips_heifsave_buffer(thumb.p, &buf, &len, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
                                        "Q", 50, "strip", TRUE, nullptr)
                 : vips_webpsave_buffer(thumb.p, &buf, &len, "Q", 80, "strip", TRUE, nullptr);
    if (rc != 0) return absl::InternalError("encoding " + format + " failed: " + VipsError());
    std::string_view bytes(static_cast<char*>(buf), len);
    Sha256Stream sha;
    sha.Update(bytes);
    auto file = SpoolFile::Create(spool_dir);
    absl::Status st = file.ok() ? (*file)->Append(bytes) : file.status();
    g_free(buf);
    if (!st.ok()) return st;
    out.push_back({t.name, format, ContentId('b', sha.Finish()), vips_image_get_width(thumb.p),
                   vips_image_get_height(thumb.p), std::move(*file)});
  }
  return out;
}

}  // namespace cloudillo::blob
