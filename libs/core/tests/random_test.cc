#include "cloudillo/core/random.h"

#include <gtest/gtest.h>

#include <set>

namespace cloudillo {
namespace {

TEST(Random, AlnumHasRequestedLengthAndAlphabet) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string s = RandomAlnum(24);
    ASSERT_EQ(s.size(), 24u);
    for (char c : s) EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)));
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(RandomBytes(32).size(), 32u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

}  // namespace
}  // namespace cloudillo
