#include "cloudillo/rpc/api.h"

#include <gtest/gtest.h>

#include "cloudillo/rpc/status.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::rpc {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

cloudillo::v1::ApiRequest WithBody(std::string body) {
  cloudillo::v1::ApiRequest r;
  r.set_body(std::move(body));
  return r;
}

TEST(JsonObjectBody, AcceptsObjectsOnly) {
  EXPECT_THAT(JsonObjectBody(WithBody(R"({"a":1})")), IsOk());
  EXPECT_THAT(JsonObjectBody(WithBody(""), true), IsOk());
  for (std::string bad :
       {std::string(""), std::string("[]"), std::string("1"), std::string("{"),
        std::string("{\"a\":\"\xff\"}"), std::string("{\"a\":1}x"), std::string(100000, '['),
        std::string("{\"a\":") + std::string(70, '[') + std::string(70, ']') + "}"}) {
    auto r = JsonObjectBody(WithBody(bad));
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument)) << bad.substr(0, 20);
    EXPECT_EQ(ErrorInfoOf(r.status()).code(), "E-VAL-INVALID");
  }
  // Brackets inside strings do not count as nesting.
  EXPECT_THAT(JsonObjectBody(WithBody("{\"a\":\"" + std::string(200, '[') + "\"}")), IsOk());
}

TEST(Roles, HasRoleMatchesWholeNames) {
  EXPECT_TRUE(HasRole("public,follower,leader", "leader"));
  EXPECT_TRUE(HasRole("leader", "leader"));
  EXPECT_FALSE(HasRole("public,followers", "follower"));
  EXPECT_FALSE(HasRole("", "leader"));
}

TEST(Errors, CarryWireCodes) {
  EXPECT_EQ(ErrorInfoOf(Forbidden()).code(), "E-AUTH-NOPERM");
  EXPECT_EQ(Forbidden().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorInfoOf(Unauthorized()).code(), "E-AUTH-UNAUTH");
  EXPECT_EQ(ErrorInfoOf(NotFoundError()).code(), "E-CORE-NOTFOUND");
  EXPECT_EQ(ErrorInfoOf(Conflict("x")).code(), "E-CORE-CONFLICT");
}

}  // namespace
}  // namespace cloudillo::rpc
