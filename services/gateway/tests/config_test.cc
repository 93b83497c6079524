#include <gtest/gtest.h>

#include "gateway_config.h"

namespace cloudillo::gateway {
namespace {

TEST(GatewayConfig, DefaultsAndOverrides) {
  ConfigSource src({{"CLOUDILLO_HTTP_PORT", "9000"}, {"CLOUDILLO_RATE_AUTH", "1/2,3/4,5/6,7/8"}});
  auto c = GatewayConfig::Load(src);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http_port, 9000);
  const auto* auth = c->Bucket("auth");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->addr_short.per_second, 1);
  EXPECT_EQ(auth->addr_short.burst, 2);
  EXPECT_DOUBLE_EQ(auth->addr_long.per_second, 3.0 / 3600);
  EXPECT_EQ(c->Bucket("general")->addr_short.per_second, 300);
}

TEST(GatewayConfig, BadValuesAreReportedTogether) {
  ConfigSource src({{"CLOUDILLO_RATE_AUTH", "fast"},
                    {"CLOUDILLO_HTTPS_PORT", "8443"},
                    {"CLOUDILLO_TRUSTED_PROXIES", "10.0.0.0/99"}});
  auto c = GatewayConfig::Load(src);
  ASSERT_FALSE(c.ok());
  std::string m(c.status().message());
  EXPECT_NE(m.find("auth"), std::string::npos);
  EXPECT_NE(m.find("CLOUDILLO_TLS_CERT"), std::string::npos);
  EXPECT_NE(m.find("TRUSTED_PROXIES"), std::string::npos);
}

TEST(Cidr, Contains) {
  auto v4 = Cidr::Parse("10.1.0.0/16");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->Contains("10.1.200.3"));
  EXPECT_FALSE(v4->Contains("10.2.0.1"));
  EXPECT_FALSE(v4->Contains("::1"));
  auto v6 = Cidr::Parse("fd00::/8");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains("fd12::1"));
  EXPECT_FALSE(Cidr::Parse("nonsense").ok());
}

}  // namespace
}  // namespace cloudillo::gateway
