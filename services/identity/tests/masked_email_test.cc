#include "masked_email.h"

#include <gtest/gtest.h>

namespace cloudillo::identity {
namespace {

TEST(MaskEmailTest, KeepsOneLetterOfEachNameAndTheTld) {
  EXPECT_EQ(MaskEmail("alice@example.com"), "a***@e***.com");
  EXPECT_EQ(MaskEmail("a@b.co.uk"), "a***@b***.uk");
  EXPECT_EQ(MaskEmail("\xc3\xa9va@\xc3\xa9xample.hu"), "\xc3\xa9***@\xc3\xa9***.hu");  // é stays whole
}

TEST(MaskEmailTest, ShapelessAddressesGiveNoHint) {
  for (const char* bad : {"", "alice", "@example.com", "alice@", "alice@localhost", "alice@.com"}) {
    EXPECT_FALSE(MaskEmail(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace cloudillo::identity
