#include "route_table.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>

namespace cloudillo::gateway {
namespace {

TEST(RouteTable, EveryRoutedRpcExistsAndEveryApiRpcIsRouted) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::set<std::string> routed;
  for (const Route& r : Routes()) {
    const auto* m = pool->FindMethodByName(r.rpc);
    ASSERT_NE(m, nullptr) << r.rpc;
    EXPECT_EQ(m->input_type()->full_name(), "cloudillo.v1.ApiRequest") << r.rpc;
    routed.insert(r.rpc);
  }
  for (const char* service : {"cloudillo.v1.Identity", "cloudillo.v1.Access"}) {
    const auto* s = pool->FindServiceByName(service);
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < s->method_count(); ++i) {
      const auto* m = s->method(i);
      if (m->input_type()->full_name() == "cloudillo.v1.ApiRequest") {
        EXPECT_TRUE(routed.count(m->full_name())) << m->full_name() << " has no route";
      }
    }
  }
}

TEST(RouteTable, MatchesLiteralsBeforeParamsAndDecodes) {
  RouteMatch m = MatchRoute("GET", "/api/me/full");
  ASSERT_NE(m.route, nullptr);
  EXPECT_STREQ(m.route->rpc, "cloudillo.v1.Identity.GetMeFull");
  m = MatchRoute("GET", "/api/settings/ui.theme");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params["name"], "ui.theme");
  m = MatchRoute("GET", "/api/profiles/b%C3%BCcher.example");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params["idTag"],
            "b\xc3\xbc"
            "cher.example");
}

TEST(RouteTable, WrongMethodAndUnknownPath) {
  RouteMatch m = MatchRoute("DELETE", "/api/me");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  m = MatchRoute("GET", "/api/nothing");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_known);
  EXPECT_EQ(MatchRoute("GET", "/api/settings/%zz").route, nullptr);
  EXPECT_EQ(MatchRoute("GET", "/api/settings/").route, nullptr);
}

TEST(PercentDecode, HostileEscapes) {
  EXPECT_EQ(*PercentDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_FALSE(PercentDecode("%", false));
  EXPECT_FALSE(PercentDecode("%4", false));
  EXPECT_FALSE(PercentDecode("%G0", false));
  EXPECT_EQ(*PercentDecode("%00", false), std::string("\0", 1));
}

}  // namespace
}  // namespace cloudillo::gateway
