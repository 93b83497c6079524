// libFuzzer target for REST JSON bodies: UTF-8 and depth checks, then the parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "cloudillo/rpc/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cloudillo::v1::ApiRequest req;
  req.set_body(reinterpret_cast<const char*>(data), size);
  auto j = cloudillo::rpc::JsonObjectBody(req, true);
  if (j.ok()) {
    if (!j->is_object()) std::abort();
    (void)j->dump();  // must not throw: every accepted body is valid UTF-8
  }
  return 0;
}
