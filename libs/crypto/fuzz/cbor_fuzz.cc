// libFuzzer target for the CBOR reader that WebAuthn input goes through: no input may
// crash, hang or allocate beyond what it carries, and whatever decodes must re-encode
// to something that decodes to the same encoding (the reader and writer agree).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cloudillo/crypto/cbor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t used = 0;
  auto v = cloudillo::crypto::DecodeCbor(in, &used);
  if (!v.ok()) return 0;
  if (used == 0 || used > in.size()) std::abort();
  std::string again = cloudillo::crypto::EncodeCbor(*v);
  auto w = cloudillo::crypto::DecodeCbor(again);
  if (!w.ok() || cloudillo::crypto::EncodeCbor(*w) != again) std::abort();
  return 0;
}
