#include "federation_map.h"

#include <boost/asio/ip/address.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/id_tag.h"

namespace cloudillo::federation {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// 127.a.b.c in plain dotted decimal: inet_aton would also take "127.1", "0x7f.1" and
// "0177.0.0.1", spellings a reviewer of the map would misread.
bool StrictLoopbackV4(std::string_view host) {
  std::vector<absl::string_view> parts = absl::StrSplit(AV(host), '.');
  if (parts.size() != 4 || parts[0] != "127") return false;
  for (absl::string_view p : parts) {
    int v = 0;
    if (!AllDigits(SV(p)) || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return false;
    if (!absl::SimpleAtoi(p, &v) || v > 255) return false;
  }
  return true;
}

absl::StatusOr<MapTarget> ParseTarget(std::string_view url) {
  MapTarget t;
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    t.tls = true;
    rest.remove_prefix(8);
  } else {
    return absl::InvalidArgumentError("scheme must be http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return absl::InvalidArgumentError("expected [::1]:port");
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
    if (host != "::1") return absl::InvalidArgumentError("the only IPv6 target allowed is [::1]");
  } else {
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return absl::InvalidArgumentError("a port is required");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (!StrictLoopbackV4(host))
      return absl::InvalidArgumentError("the host must be a loopback address written 127.a.b.c or [::1]");
  }
  if (!AllDigits(port) || port.size() > 5 || port[0] == '0' || !absl::SimpleAtoi(AV(port), &t.port) ||
      t.port < 1 || t.port > 65535) {
    return absl::InvalidArgumentError("the port must be 1..65535");
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec || !address.is_loopback()) return absl::InvalidArgumentError("not a loopback address");
  t.address = address.to_string();
  return t;
}

}  // namespace

absl::StatusOr<std::map<std::string, MapTarget>> ParseFederationMap(std::string_view text) {
  std::map<std::string, MapTarget> out;
  for (absl::string_view raw : absl::StrSplit(AV(text), ',')) {
    std::string_view entry = SV(absl::StripAsciiWhitespace(raw));
    if (entry.empty()) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("CLOUDILLO_FEDERATION_MAP: '", AV(entry), "' is not host=url"));
    }
    std::string_view host = SV(absl::StripAsciiWhitespace(AV(entry.substr(0, eq))));
    std::string_view url = SV(absl::StripAsciiWhitespace(AV(entry.substr(eq + 1))));
    auto canonical = CanonicalIdTag(host);
    auto ascii = canonical.ok() ? IdTagToAscii(*canonical) : canonical;
    if (!ascii.ok() || *ascii != absl::AsciiStrToLower(AV(host))) {
      return absl::InvalidArgumentError(
          absl::StrCat("CLOUDILLO_FEDERATION_MAP: '", AV(host), "' is not a host name in A-label form"));
    }
    auto target = ParseTarget(url);
    if (!target.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("CLOUDILLO_FEDERATION_MAP: '", AV(url), "' for ",
                                                     AV(host), ": ", target.status().message()));
    }
    if (!out.emplace(*ascii, *target).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("CLOUDILLO_FEDERATION_MAP: '", AV(host), "' is mapped twice"));
    }
  }
  return out;
}

}  // namespace cloudillo::federation
