// gMock matchers for absl::Status / absl::StatusOr, in the shape of abseil's
// status_matchers.h (not in our Debian Abseil). On purpose there is no "is not OK":
// tests assert the exact code.
//
//   EXPECT_THAT(Parse(x), IsOkAndHolds(Eq(3)));
//   EXPECT_THAT(Parse(y), StatusIs(absl::StatusCode::kInvalidArgument));
#pragma once

#include <gmock/gmock.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status: " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status: " << s;
  return s.code() == code;
}

MATCHER_P(IsOkAndHolds, inner, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status: " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

#define CL_ASSERT_OK_AND_ASSIGN(lhs, expr)                                                             \
  auto CL_STATUS_CONCAT_(cl_t_, __LINE__) = (expr);                                                    \
  ASSERT_TRUE(CL_STATUS_CONCAT_(cl_t_, __LINE__).ok()) << CL_STATUS_CONCAT_(cl_t_, __LINE__).status(); \
  lhs = std::move(*CL_STATUS_CONCAT_(cl_t_, __LINE__))

}  // namespace cloudillo::testing
