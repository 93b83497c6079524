#include "cloudillo/crypto/hash.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace cloudillo::crypto {
namespace {

TEST(Hash, Sha256KnownAnswer) {
  EXPECT_EQ(absl::BytesToHexString(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, HmacRfc4231Case6KeyLongerThanABlock) {
  EXPECT_EQ(absl::BytesToHexString(HmacSha256(std::string(131, '\xaa'),
                                              "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Hash, HmacRfc4231Case2) {
  EXPECT_EQ(absl::BytesToHexString(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hash, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "ab"));
}

TEST(Hash, ContentIdShape) {
  std::string id = ContentId("b", "hello");
  EXPECT_EQ(id.substr(0, 3), "b1~");
  EXPECT_EQ(id.size(), 3u + 43u);
  EXPECT_EQ(id, "b1~LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ");
}

}  // namespace
}  // namespace cloudillo::crypto
