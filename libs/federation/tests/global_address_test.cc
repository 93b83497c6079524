#include "global_address.h"

#include <gtest/gtest.h>

#include <string>

namespace cloudillo::federation {
namespace {

bool Global(const std::string& text) { return IsGlobalUnicast(boost::asio::ip::make_address(text)); }

struct Case {
  const char* address;
  bool global;
};

class AddressTable : public ::testing::TestWithParam<Case> {};

TEST_P(AddressTable, Classifies) {
  EXPECT_EQ(Global(GetParam().address), GetParam().global) << GetParam().address;
}

INSTANTIATE_TEST_SUITE_P(
    V4, AddressTable,
    ::testing::Values(
        // "this network", private, CGNAT, loopback, link-local.
        Case{"0.0.0.0", false}, Case{"0.255.255.255", false}, Case{"10.0.0.1", false},
        Case{"10.255.255.255", false}, Case{"100.64.0.1", false}, Case{"100.127.255.255", false},
        Case{"100.63.255.255", true}, Case{"100.128.0.0", true}, Case{"127.0.0.1", false},
        Case{"127.255.255.254", false}, Case{"169.254.169.254", false}, Case{"169.253.0.1", true},
        Case{"172.16.0.1", false}, Case{"172.31.255.255", false}, Case{"172.15.255.255", true},
        Case{"172.32.0.0", true},
        // Special purpose and documentation.
        Case{"192.0.0.8", false}, Case{"192.0.2.1", false}, Case{"192.0.1.255", true},
        Case{"192.0.3.0", true}, Case{"192.31.196.1", false}, Case{"192.52.193.1", false},
        Case{"192.88.99.1", false}, Case{"192.168.1.1", false}, Case{"192.169.0.1", true},
        Case{"198.18.0.1", false}, Case{"198.19.255.255", false}, Case{"198.17.255.255", true},
        Case{"198.20.0.0", true}, Case{"198.51.100.7", false}, Case{"203.0.113.9", false},
        Case{"203.0.114.0", true},
        // Multicast, reserved, broadcast.
        Case{"224.0.0.1", false}, Case{"239.255.255.255", false}, Case{"240.0.0.1", false},
        Case{"255.255.255.255", false},
        // Public.
        Case{"1.1.1.1", true}, Case{"8.8.8.8", true}, Case{"93.184.216.34", true},
        Case{"223.255.255.255", true}));

INSTANTIATE_TEST_SUITE_P(
    V6, AddressTable,
    ::testing::Values(
        Case{"::", false}, Case{"::1", false}, Case{"::2", false},
        // IPv4-compatible (deprecated) and IPv4-mapped forms follow the embedded address
        // (mapped) or are refused outright (compatible).
        Case{"::127.0.0.1", false}, Case{"::8.8.8.8", false}, Case{"::ffff:127.0.0.1", false},
        Case{"::ffff:10.1.2.3", false}, Case{"::ffff:169.254.169.254", false},
        Case{"::ffff:192.168.0.1", false}, Case{"::ffff:0.0.0.0", false}, Case{"::ffff:8.8.8.8", true},
        Case{"::ffff:0:8.8.8.8", false},
        // NAT64.
        Case{"64:ff9b::127.0.0.1", false}, Case{"64:ff9b::10.0.0.1", false},
        Case{"64:ff9b::192.168.1.1", false}, Case{"64:ff9b::8.8.8.8", true}, Case{"64:ff9b:1::1", false},
        // 6to4 follows the embedded address.
        Case{"2002:7f00:1::", false}, Case{"2002:c0a8:101::1", false}, Case{"2002:808:808::1", true},
        // Unique local, link-local, site-local, multicast.
        Case{"fc00::1", false}, Case{"fd12:3456::1", false}, Case{"fe80::1", false}, Case{"febf::1", false},
        Case{"fec0::1", false}, Case{"ff02::1", false}, Case{"ff0e::1", false},
        // Documentation, Teredo, discard, benchmarking, reserved space outside 2000::/3.
        Case{"2001:db8::1", false}, Case{"2001:db8:ffff::1", false}, Case{"3fff::1", false},
        Case{"2001::1", false}, Case{"2001:2::1", false}, Case{"100::1", false}, Case{"4000::1", false},
        Case{"1::1", false}, Case{"5f00::1", false},
        // Public.
        Case{"2001:4860:4860::8888", true}, Case{"2606:4700:4700::1111", true}, Case{"2a00:1450::1", true},
        Case{"2001:200::1", true}, Case{"3ffe::1", true}));

}  // namespace
}  // namespace cloudillo::federation
