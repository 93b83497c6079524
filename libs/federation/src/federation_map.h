// CLOUDILLO_FEDERATION_MAP (PROTOCOL §13.10): "cl-o.bob.test=http://127.0.0.1:18490,..."
// sends requests for an API host to a loopback test server instead of DNS + port 443.
//
// Only loopback targets are accepted, written strictly: http://127.a.b.c:port,
// https://127.a.b.c:port or http(s)://[::1]:port, an optional trailing "/", nothing
// else (no user info, path, query, leading zeros, hex or short IPv4 forms, names).
// A mistyped or hostile map (a private address, "localhost", "127.0.0.1@evil") is
// InvalidArgument rather than a redirect of federation traffic somewhere else.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo::federation {

struct MapTarget {
  bool tls = false;
  std::string address;  // IP literal, no brackets
  int port = 0;
};

// Keys are host names in lowercase A-label form. Empty input gives an empty map.
absl::StatusOr<std::map<std::string, MapTarget>> ParseFederationMap(std::string_view text);

}  // namespace cloudillo::federation
