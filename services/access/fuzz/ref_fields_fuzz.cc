// libFuzzer target for ref input: the bytes as a ref id and a file id, and, when they
// parse as a JSON object, as the bodies of POST and PATCH /api/refs. Nothing may
// crash, and whatever is accepted must keep the invariants the SQL relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ref_fields.h"

namespace ac = cloudillo::access;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  (void)ac::IsRefId(in);
  (void)ac::IsScopeFileId(in);
  (void)ac::ParseAccessLevel(in);
  (void)ac::RefExpired(in, 1700000000);
  auto body = nlohmann::json::parse(in, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return 0;
  const int64_t now = 1700000000;
  if (auto c = ac::ParseRefCreate(body, now); c.ok()) {
    if (c->type.empty()) abort();
    if (c->count && *c->count < 1) abort();
    if (c->expires_at && *c->expires_at <= now) abort();
    if (!c->resource_id.empty() && !ac::IsScopeFileId(c->resource_id)) abort();
    if (c->access_level != 'R' && c->access_level != 'C' && c->access_level != 'W') abort();
  }
  if (auto u = ac::ParseRefUpdate(body, now); u.ok()) {
    if (u->Empty()) abort();
    if (u->count.value && *u->count.value < 1) abort();
  }
  return 0;
}
