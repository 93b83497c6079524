#include "cloudillo/crypto/master_key.h"

#include <gtest/gtest.h>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {
using ::cloudillo::testing::IsOkAndHolds;
using ::cloudillo::testing::StatusIs;
using ::testing::Eq;

TEST(MasterKey, SealOpenBindsAad) {
  CL_ASSERT_OK_AND_ASSIGN(MasterKey mk, MasterKey::FromBase64(Base64Encode(RandomBytes(32))));
  std::string sealed = mk.Seal("secret", "tn:1:signing-key");
  EXPECT_THAT(mk.Open(sealed, "tn:1:signing-key"), IsOkAndHolds(Eq("secret")));
  EXPECT_THAT(mk.Open(sealed, "tn:2:signing-key"), StatusIs(absl::StatusCode::kDataLoss));
  sealed[13] ^= 1;
  EXPECT_THAT(mk.Open(sealed, "tn:1:signing-key"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(mk.Open("short", ""), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(MasterKey, WrongKeyCannotOpen) {
  CL_ASSERT_OK_AND_ASSIGN(MasterKey a, MasterKey::FromBase64(Base64Encode(RandomBytes(32))));
  CL_ASSERT_OK_AND_ASSIGN(MasterKey b, MasterKey::FromBase64(Base64Encode(RandomBytes(32))));
  EXPECT_THAT(b.Open(a.Seal("x", ""), ""), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(MasterKey, RejectsBadKeys) {
  EXPECT_THAT(MasterKey::FromBase64(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterKey::FromBase64(Base64Encode(RandomBytes(16))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterKey::FromBase64("not base64!"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cloudillo::crypto
