// libFuzzer target for the byte-level text parsers of libs/core: base64 and
// base64url, percent-decoding, UTF-8 validation, id_tag canonicalisation and Host
// parsing. Checks round trips where they must hold, and that nothing crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/percent.h"
#include "cloudillo/core/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto d = cloudillo::Base64UrlDecode(in); d.ok() && cloudillo::Base64UrlEncode(*d) != in) std::abort();
  if (auto d = cloudillo::Base64Decode(in); d.ok() && cloudillo::Base64Encode(*d) != in) std::abort();
  if (cloudillo::Base64UrlDecode(cloudillo::Base64UrlEncode(in)).value_or("") != in) std::abort();
  (void)cloudillo::PercentDecode(in, true);
  (void)cloudillo::IsValidUtf8(in);
  if (auto t = cloudillo::CanonicalIdTag(in); t.ok()) {
    // Canonical form is a fixed point.
    if (cloudillo::CanonicalIdTag(*t).value_or("") != *t) std::abort();
  }
  (void)cloudillo::ParseHost(in);
  return 0;
}
