#include "cloudillo/core/base64.h"

#include <gtest/gtest.h>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo {
namespace {
using ::cloudillo::testing::IsOkAndHolds;
using ::cloudillo::testing::StatusIs;
using ::testing::Eq;

TEST(Base64Url, Rfc4648Vectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_THAT(Base64UrlDecode("Zm9vYg"), IsOkAndHolds(Eq("foob")));
  EXPECT_THAT(Base64UrlDecode("-_8"), IsOkAndHolds(Eq("\xfb\xff")));
}

TEST(Base64Url, RejectsHostileInput) {
  EXPECT_THAT(Base64UrlDecode("Zg=="), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64UrlDecode("Z"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64UrlDecode("Zm+v"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64UrlDecode("Zh"), StatusIs(absl::StatusCode::kInvalidArgument));  // trailing bits
  EXPECT_THAT(Base64UrlDecode(std::string("Zm\0v", 4)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Base64Std, PaddedRoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x00\xff\xfe"}) {
    EXPECT_THAT(Base64Decode(Base64Encode(s)), IsOkAndHolds(Eq(s)));
  }
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_THAT(Base64Decode("Zg="), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64Decode("Z==="), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64Decode("-_8="), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cloudillo
