#include "global_address.h"

#include <array>
#include <cstdint>

namespace cloudillo::federation {
namespace {

struct V4Range {
  uint32_t base;
  int prefix;
};

constexpr uint32_t V4(int a, int b, int c, int d) {
  return (uint32_t(a) << 24) | (uint32_t(b) << 16) | (uint32_t(c) << 8) | uint32_t(d);
}

// IANA IPv4 Special-Purpose Address Registry entries that are not globally reachable,
// plus multicast and the reserved 240/4.
constexpr std::array<V4Range, 17> kV4Refused = {{
    {V4(0, 0, 0, 0), 8},        // "this network"
    {V4(10, 0, 0, 0), 8},       // private
    {V4(100, 64, 0, 0), 10},    // CGNAT shared space
    {V4(127, 0, 0, 0), 8},      // loopback
    {V4(169, 254, 0, 0), 16},   // link-local (cloud metadata lives here)
    {V4(172, 16, 0, 0), 12},    // private
    {V4(192, 0, 0, 0), 24},     // IETF protocol assignments
    {V4(192, 0, 2, 0), 24},     // TEST-NET-1
    {V4(192, 31, 196, 0), 24},  // AS112
    {V4(192, 52, 193, 0), 24},  // AMT
    {V4(192, 88, 99, 0), 24},   // deprecated 6to4 relay anycast
    {V4(192, 168, 0, 0), 16},   // private
    {V4(198, 18, 0, 0), 15},    // benchmarking
    {V4(198, 51, 100, 0), 24},  // TEST-NET-2
    {V4(203, 0, 113, 0), 24},   // TEST-NET-3
    {V4(224, 0, 0, 0), 4},      // multicast
    {V4(240, 0, 0, 0), 4},      // reserved, and 255.255.255.255 broadcast
}};

bool InV4(uint32_t a, const V4Range& r) {
  uint32_t mask = r.prefix == 0 ? 0 : ~uint32_t(0) << (32 - r.prefix);
  return (a & mask) == (r.base & mask);
}

bool PrefixEquals(const std::array<unsigned char, 16>& b, std::initializer_list<unsigned char> prefix) {
  size_t i = 0;
  for (unsigned char c : prefix) {
    if (b[i++] != c) return false;
  }
  return true;
}

boost::asio::ip::address_v4 V4At(const std::array<unsigned char, 16>& b, size_t offset) {
  return boost::asio::ip::address_v4(
      boost::asio::ip::address_v4::bytes_type{b[offset], b[offset + 1], b[offset + 2], b[offset + 3]});
}

}  // namespace

bool IsGlobalUnicast(const boost::asio::ip::address_v4& address) {
  uint32_t a = address.to_uint();
  for (const V4Range& r : kV4Refused) {
    if (InV4(a, r)) return false;
  }
  return true;
}

bool IsGlobalUnicast(const boost::asio::ip::address_v6& address) {
  const std::array<unsigned char, 16> b = address.to_bytes();
  // ::/96 covers :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible
  // form; none is a global destination.
  if (PrefixEquals(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})) return false;
  // ::ffff:0:0/96 IPv4-mapped: decided by the embedded address.
  if (PrefixEquals(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})) return IsGlobalUnicast(V4At(b, 12));
  // ::ffff:0:0:0/96 IPv4-translated (SIIT): never a plain global destination.
  if (PrefixEquals(b, {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0})) return false;
  // 64:ff9b::/96 NAT64 well-known prefix: the translator reaches the embedded address.
  if (PrefixEquals(b, {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) return IsGlobalUnicast(V4At(b, 12));
  // 64:ff9b:1::/48 local-use NAT64.
  if (PrefixEquals(b, {0, 0x64, 0xff, 0x9b, 0, 1})) return false;
  // 100::/64 discard-only.
  if (PrefixEquals(b, {0x01, 0, 0, 0, 0, 0, 0, 0})) return false;
  // 2001::/23 IETF protocol assignments (Teredo 2001::/32, ORCHIDs, benchmarking
  // 2001:2::/48 ...). A few anycast services live here; none is a Cloudillo node.
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) return false;
  // 2001:db8::/32 documentation.
  if (PrefixEquals(b, {0x20, 0x01, 0x0d, 0xb8})) return false;
  // 2002::/16 6to4: the relay reaches the embedded IPv4 address.
  if (PrefixEquals(b, {0x20, 0x02})) return IsGlobalUnicast(V4At(b, 2));
  // 3fff::/20 documentation (RFC 9637).
  if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) return false;
  // 5f00::/16 SRv6 SIDs.
  if (PrefixEquals(b, {0x5f, 0x00})) return false;
  // fc00::/7 unique local.
  if ((b[0] & 0xfe) == 0xfc) return false;
  // fe80::/10 link-local, and the deprecated site-local fec0::/10.
  if (b[0] == 0xfe && (b[1] & 0x80) == 0x80) return false;
  // ff00::/8 multicast.
  if (b[0] == 0xff) return false;
  // Only 2000::/3 is allocated as global unicast; the rest is reserved by IANA.
  return (b[0] & 0xe0) == 0x20;
}

bool IsGlobalUnicast(const boost::asio::ip::address& address) {
  return address.is_v4() ? IsGlobalUnicast(address.to_v4()) : IsGlobalUnicast(address.to_v6());
}

}  // namespace cloudillo::federation
