#include "cloudillo/db/sql_text.h"

#include <gtest/gtest.h>

#include "cloudillo/db/pool.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"

namespace cloudillo::db {
namespace {

TEST(SqlText, EscapeLike) { EXPECT_EQ(EscapeLike("a%b_c\\d"), "a\\%b\\_c\\\\d"); }

TEST(SqlText, TextArrayRoundTripsThroughPostgres) {
  auto pool = Pool::Connect(cloudillo::testing::CreateTestDatabase(), 1);
  ASSERT_TRUE(pool.ok());
  std::vector<std::string> items = {"plain",   "with,comma", "quote\"d", "back\\slash",
                                    "{brace}", "",           "new\nline"};
  auto r = (*pool)->Query("SELECT unnest($1::text[])", {P(TextArrayLiteral(items))});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(r->rows[i].Str(0), items[i]);
  auto like = (*pool)->Query("SELECT 'a_b' LIKE $1, 'axb' LIKE $1", {P(EscapeLike("a_b"))});
  ASSERT_TRUE(like.ok());
  EXPECT_TRUE(like->rows[0].Bool(0));
  EXPECT_FALSE(like->rows[0].Bool(1));
}

}  // namespace
}  // namespace cloudillo::db
