#include "federation_map.h"

#include <gtest/gtest.h>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::federation {
namespace {

using ::cloudillo::testing::StatusIs;

TEST(FederationMap, EmptyIsNoMap) {
  auto m = ParseFederationMap("");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());
  EXPECT_TRUE(ParseFederationMap(" , ,")->empty());
}

TEST(FederationMap, ParsesLoopbackEntries) {
  auto m = ParseFederationMap(
      "cl-o.bob.test=http://127.0.0.1:18490, CL-O.Carol.Test = https://127.0.0.1:443/,"
      "cl-o.dave.test=http://[::1]:8080,cl-o.xn--bcher-kva.test=http://127.1.2.3:1");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 4u);
  EXPECT_FALSE(m->at("cl-o.bob.test").tls);
  EXPECT_EQ(m->at("cl-o.bob.test").address, "127.0.0.1");
  EXPECT_EQ(m->at("cl-o.bob.test").port, 18490);
  EXPECT_TRUE(m->at("cl-o.carol.test").tls);
  EXPECT_EQ(m->at("cl-o.carol.test").port, 443);
  EXPECT_EQ(m->at("cl-o.dave.test").address, "::1");
  EXPECT_EQ(m->at("cl-o.xn--bcher-kva.test").address, "127.1.2.3");
}

class HostileEntry : public ::testing::TestWithParam<const char*> {};

TEST_P(HostileEntry, IsRefused) {
  EXPECT_THAT(ParseFederationMap(GetParam()), StatusIs(absl::StatusCode::kInvalidArgument)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(
    Map, HostileEntry,
    ::testing::Values("cl-o.bob.test", "=http://127.0.0.1:1", "cl-o.bob.test=", "cl-o.bob.test=127.0.0.1:80",
                      "cl-o.bob.test=ftp://127.0.0.1:21", "cl-o.bob.test=http://10.0.0.1:80",
                      "cl-o.bob.test=http://8.8.8.8:80", "cl-o.bob.test=http://169.254.169.254:80",
                      "cl-o.bob.test=http://localhost:80", "cl-o.bob.test=http://127.0.0.1",
                      "cl-o.bob.test=http://127.0.0.1:", "cl-o.bob.test=http://127.0.0.1:0",
                      "cl-o.bob.test=http://127.0.0.1:65536", "cl-o.bob.test=http://127.0.0.1:080",
                      "cl-o.bob.test=http://127.0.0.1:8x", "cl-o.bob.test=http://127.0.0.1:80/api",
                      "cl-o.bob.test=http://127.0.0.1:80?x", "cl-o.bob.test=http://127.0.0.1@evil.com:80",
                      "cl-o.bob.test=http://evil.com@127.0.0.1:80",
                      "cl-o.bob.test=http://127.0.0.1.evil.com:80", "cl-o.bob.test=http://127.1:80",
                      "cl-o.bob.test=http://0x7f.0.0.1:80", "cl-o.bob.test=http://0177.0.0.1:80",
                      "cl-o.bob.test=http://127.0.0.01:80", "cl-o.bob.test=http://127.0.0.256:80",
                      "cl-o.bob.test=http://2130706433:80", "cl-o.bob.test=http://[::ffff:127.0.0.1]:80",
                      "cl-o.bob.test=http://[::]:80", "cl-o.bob.test=http://[fe80::1]:80",
                      "cl-o.bob.test=http://[::1]", "cl-o.bob.test=http://[::1:80",
                      "cl-o.bob.test=http://0.0.0.0:80", "cl-o.bob.test=HTTP://127.0.0.1:80",
                      "cl-o.bob.test=http://127.0.0.1:80 extra", "cl-o.bücher.test=http://127.0.0.1:80",
                      "cl_o.bob.test=http://127.0.0.1:80", "cl-o.bob.test/x=http://127.0.0.1:80",
                      "cl-o.bob.test=http://127.0.0.1:1,cl-o.bob.test=http://127.0.0.1:2",
                      "cl-o.bob.test=http://127.0.0.1:80,cl-o.x=http://10.0.0.1:80"));

}  // namespace
}  // namespace cloudillo::federation
