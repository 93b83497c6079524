// libFuzzer target for the blob service's byte-level parsers: Range headers, file
// and variant ids, file names, tags, preset names and descriptors. They must never
// crash, and what they accept must be self-consistent.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "byte_range.h"
#include "file_ids.h"
#include "presets.h"

using namespace cloudillo::blob;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  ByteRange r;
  for (uint64_t total : {uint64_t(0), uint64_t(1), uint64_t(100), uint64_t(1) << 40}) {
    if (ParseRange(s, total, &r) == RangeVerdict::kPartial) {
      if (r.length == 0 || r.first >= total || r.first + r.length > total) std::abort();
    }
  }
  // An empty tag is never one a download sends; matching it would be a parser slip.
  if (IfNoneMatchHits(s, "") && s.find('*') == std::string::npos) std::abort();
  if (IsFileId(s) && s.find('/') != std::string::npos) std::abort();
  if (IsValidFileName(s) && (s.find('/') != std::string::npos || s.empty())) std::abort();
  (void)IsValidTag(s);
  (void)IsValidPresetName(s);
  if (auto v = ParseDescriptor(s)) {
    for (const Variant& x : *v) {
      if (!IsContentId(x.blob_id, 'b')) std::abort();
    }
    (void)BestVariant(*v, s.substr(0, 8));
    std::vector<Variant> copy = *v;
    (void)BuildDescriptor(copy);
  }
  return 0;
}
