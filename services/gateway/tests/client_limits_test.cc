// The tenant's plan quotas in Limits::ChargeTenant: per minute and per day, per tenant,
// a 429 in the envelope naming the quota, and independent of the rate-limit switch.
#include "client_limits.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <nlohmann/json.hpp>

namespace cloudillo::gateway {
namespace {

class ClientLimitsTest : public ::testing::Test {
 protected:
  GatewayConfig config_;
  prometheus::Registry registry_;
  std::unique_ptr<GatewayMetrics> metrics_ = std::make_unique<GatewayMetrics>(
      registry_, RouteTable::Default(), std::vector<std::string>{"tenant_quota"});
  std::unique_ptr<Limits> Make() { return std::make_unique<Limits>(config_, nullptr, *metrics_); }
  static TenantInfo Tenant(int64_t tn, int rpm, int rpd) {
    return TenantInfo{tn, "t.example", true, rpm, rpd};
  }
};

TEST_F(ClientLimitsTest, MinuteQuotaAdmitsItsBurstThenRefusesWithTheQuotasLevel) {
  config_.tenant_limit.per_second = 0;  // only the plan counts here
  auto limits = Make();
  TenantInfo t = Tenant(1, 3, 0);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limits->ChargeTenant(t).has_value()) << i;
  auto refused = limits->ChargeTenant(t);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 429);
  auto body = nlohmann::json::parse(refused->body);
  EXPECT_EQ(body["error"]["code"], "E-RATE-LIMITED");
  EXPECT_EQ(body["error"]["details"]["level"], "tenant_quota_minute");
  // Another tenant on the same plan has its own quota.
  EXPECT_FALSE(limits->ChargeTenant(Tenant(2, 3, 0)).has_value());
  // Without a plan there is no quota.
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(limits->ChargeTenant(Tenant(3, 0, 0)).has_value());
}

TEST_F(ClientLimitsTest, DayQuotaAndTheRateLimitSwitch) {
  config_.rate_limit = false;  // quotas are sold, so they hold with rate limiting off
  auto limits = Make();
  TenantInfo t = Tenant(7, 0, 2);
  EXPECT_FALSE(limits->ChargeTenant(t).has_value());
  EXPECT_FALSE(limits->ChargeTenant(t).has_value());
  auto refused = limits->ChargeTenant(t);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(nlohmann::json::parse(refused->body)["error"]["details"]["level"], "tenant_quota_day");
  bool retry_after = false;
  for (const auto& [k, v] : refused->headers) retry_after |= k == "Retry-After" && std::stoll(v) > 3600;
  EXPECT_TRUE(retry_after) << "a day's quota refills slowly";
}

}  // namespace
}  // namespace cloudillo::gateway
