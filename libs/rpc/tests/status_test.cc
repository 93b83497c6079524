#include "cloudillo/rpc/status.h"

#include <gtest/gtest.h>

namespace cloudillo::rpc {
namespace {

TEST(StatusConversion, EveryCodeRoundTrips) {
  for (int c = 0; c <= 16; ++c) {
    absl::Status s(static_cast<absl::StatusCode>(c), c == 0 ? "" : "msg");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(int(g.error_code()), c);
    absl::Status back = FromGrpcStatus(g);
    EXPECT_EQ(back.code(), s.code());
    if (c != 0) EXPECT_EQ(back.message(), "msg");
  }
}

TEST(StatusConversion, WireCodeAndDetailsSurvive) {
  absl::Status s = ApiError(absl::StatusCode::kNotFound, "E-SET-NOTFOUND", "Setting not configured",
                            R"({"key":"x"})", 404);
  grpc::Status g = ToGrpcStatus(s);
  cloudillo::v1::ErrorInfo info = ErrorInfoOf(g);
  EXPECT_EQ(info.code(), "E-SET-NOTFOUND");
  EXPECT_EQ(info.details_json(), R"({"key":"x"})");
  EXPECT_EQ(info.http_status(), 404);
  EXPECT_EQ(ErrorInfoOf(FromGrpcStatus(g)).code(), "E-SET-NOTFOUND");
  EXPECT_EQ(ErrorInfoOf(absl::InternalError("x")).code(), "");
}

}  // namespace
}  // namespace cloudillo::rpc
