// libFuzzer target for the Yjs codec: any byte string is a valid update or a clear
// error; a valid one re-encodes to something that decodes to the same update, and the
// update operations accept it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cloudillo/yjs/update.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  cloudillo::yjs::Limits limits;
  limits.max_structs = 100000;
  auto u = cloudillo::yjs::DecodeUpdate(in, limits);
  (void)cloudillo::yjs::DecodeStateVector(in);
  if (!u.ok()) return 0;
  std::string again = cloudillo::yjs::EncodeUpdate(*u);
  auto u2 = cloudillo::yjs::DecodeUpdate(again, limits);
  if (!u2.ok() || cloudillo::yjs::EncodeUpdate(*u2) != again) std::abort();
  auto sv = cloudillo::yjs::StateVectorFromUpdate(in, limits);
  if (!sv.ok()) std::abort();
  if (!cloudillo::yjs::DiffUpdate(in, *sv, limits).ok()) std::abort();
  if (!cloudillo::yjs::MergeUpdates({in, again}, limits).ok()) std::abort();
  return 0;
}
