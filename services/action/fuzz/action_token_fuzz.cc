// Hostile action tokens: decoding, claim checks and the type rules never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "action_types.h"
#include "token_claims.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string token(reinterpret_cast<const char*>(data), size);
  auto claims = cloudillo::action::DecodeClaims(token);
  if (claims.ok()) {
    const auto* def = cloudillo::action::FindType(claims->t);
    const auto& d = def ? *def : cloudillo::action::CustomType();
    (void)cloudillo::action::ValidateFields(d, *claims);
    (void)cloudillo::action::DedupKey(d, *claims);
  }
  (void)cloudillo::action::ActionIdOf(token);
  return 0;
}
