// The two parsers that read untrusted text: a peer's /api/me body (ParseProfileKeys)
// and, less hostile but operator-typed, CLOUDILLO_FEDERATION_MAP. The first byte picks
// which; neither may crash, and whatever the map parser accepts must be loopback.
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "federation_map.h"
#include "profile_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    auto map = cloudillo::federation::ParseFederationMap(input);
    if (map.ok()) {
      for (const auto& [host, target] : *map) {
        if (!boost::asio::ip::make_address(target.address).is_loopback()) std::abort();
        if (target.port < 1 || target.port > 65535) std::abort();
      }
    }
  } else {
    auto keys = cloudillo::federation::ParseProfileKeys(input, "bob.test");
    if (keys.ok() && keys->size() > cloudillo::federation::kMaxKeys) std::abort();
  }
  return 0;
}
