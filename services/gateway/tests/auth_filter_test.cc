#include "auth_filter.h"

#include <gtest/gtest.h>

namespace cloudillo::gateway {
namespace {

TEST(ScopePermits, FileScopesReachOnlyTheirFamilies) {
  EXPECT_TRUE(ScopePermits("", "/api/settings", "GET"));
  EXPECT_TRUE(ScopePermits("file:f1~abc:W", "/api/files/f1~abc", "GET"));
  EXPECT_TRUE(ScopePermits("file:f1~abc:W", "/ws/crdt/f1~abc", "GET"));
  EXPECT_TRUE(ScopePermits("file:f1~abc:W", "/api/auth/access-token", "GET"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/settings", "GET"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/me", "PATCH"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/auth/api-keys", "POST"));
  // A share link's guest never reaches the refs that admitted it.
  EXPECT_FALSE(ScopePermits("file:f1~abc:W", "/api/refs", "GET"));
  EXPECT_FALSE(ScopePermits("file:f1~abc:R", "/api/refs/abc", "DELETE"));
  EXPECT_FALSE(ScopePermits("nonsense", "/api/files/x", "GET"));
  EXPECT_TRUE(ScopePermits("apkg:publish", "/api/actions", "POST"));
  EXPECT_FALSE(ScopePermits("apkg:publish", "/api/actions", "GET"));
  EXPECT_TRUE(ScopePermits("carddav:read", "/api/contacts", "GET"));
}

TEST(QueryToken, ReadsRawValue) {
  EXPECT_EQ(QueryToken("access=write&token=a.b%2Ec"), "a.b%2Ec");
  EXPECT_EQ(QueryToken("tokens=x"), "");
  EXPECT_EQ(QueryToken(""), "");
  EXPECT_EQ(QueryToken("token="), "");
}

}  // namespace
}  // namespace cloudillo::gateway
