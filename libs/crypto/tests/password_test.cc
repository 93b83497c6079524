#include "cloudillo/crypto/password.h"

#include <gtest/gtest.h>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {

TEST(Password, Argon2idRoundTrip) {
  CL_ASSERT_OK_AND_ASSIGN(std::string h, HashPassword("correct horse"));
  EXPECT_EQ(h.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << h;
  PasswordCheck ok = VerifyPassword("correct horse", h);
  EXPECT_TRUE(ok.match);
  EXPECT_FALSE(ok.needs_rehash);
  EXPECT_FALSE(VerifyPassword("correct horsE", h).match);
  EXPECT_FALSE(VerifyPassword(std::string("correct horse\0x", 15), h).match);
}

// The OpenBSD bcrypt vector "U*U" at cost 5, as imported tenants would carry.
TEST(Password, BcryptAcceptedAndFlaggedForRehash) {
  const std::string h = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
  PasswordCheck c = VerifyPassword("U*U", h);
  EXPECT_TRUE(c.match);
  EXPECT_TRUE(c.needs_rehash);
  EXPECT_FALSE(VerifyPassword("U*V", h).match);
}

TEST(Password, UnknownFormatsNeverMatch) {
  EXPECT_FALSE(VerifyPassword("", "").match);
  EXPECT_FALSE(VerifyPassword("x", "x").match);
  EXPECT_FALSE(VerifyPassword("x", "$1$salt$hash").match);
  EXPECT_FALSE(VerifyPassword("x", "$argon2id$garbage").match);
  EXPECT_FALSE(VerifyPassword("x", "$2b$99$broken").match);
}

}  // namespace
}  // namespace cloudillo::crypto
