// Which addresses an outbound federation request may connect to (the SSRF guard,
// PROTOCOL §1.2). Only globally routable unicast addresses pass: everything a
// host-internal, site-internal or special-purpose range covers is refused, and so are
// IPv6 forms that embed such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64
// 64:ff9b::/96, 6to4 2002::/16), since the kernel or a translator on the path would
// reach the embedded address.
#pragma once

#include <boost/asio/ip/address.hpp>

namespace cloudillo::federation {

bool IsGlobalUnicast(const boost::asio::ip::address& address);
bool IsGlobalUnicast(const boost::asio::ip::address_v4& address);
bool IsGlobalUnicast(const boost::asio::ip::address_v6& address);

}  // namespace cloudillo::federation
