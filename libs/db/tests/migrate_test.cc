#include "cloudillo/db/migrate.h"

#include <gtest/gtest.h>

#include <thread>

#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"

namespace cloudillo::db {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::IsOkAndHolds;
using ::cloudillo::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;

// Binary N knows V1..V2; N+1 adds an expand-only V3 (a new nullable column) or a
// contract V3 (drops the column N reads).
const Migration kV1{1, "items", "CREATE TABLE items (id bigint PRIMARY KEY, name text, legacy text);"};
const Migration kV2{2, "tags", "-- expand: a new table\nCREATE TABLE tags (item_id bigint, tag text);"};
const Migration kExpandV3{3, "note", "ALTER TABLE items ADD COLUMN note text;"};
const Migration kContractV3{3, "drop_legacy",
                            "-- min-binary-version: 3\n-- binaries 1 and 2 read items.legacy\n"
                            "ALTER TABLE items DROP COLUMN legacy;"};
const std::vector<Migration> kBinaryN = {kV1, kV2};
const std::vector<Migration> kExpand = {kV1, kV2, kExpandV3};
const std::vector<Migration> kContract = {kV1, kV2, kContractV3};

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = Pool::Connect(cloudillo::testing::CreateTestDatabase(), 4);
    ASSERT_THAT(pool, IsOk());
    pool_ = *pool;
  }
  int64_t Scalar(const std::string& sql) {
    auto r = pool_->Query(sql);
    EXPECT_THAT(r, IsOk());
    return r.ok() && !r->empty() ? r->rows[0].Int(0) : -1;
  }
  std::shared_ptr<Pool> pool_;
};

TEST_F(MigrateTest, FreshMigrateIsIdempotentAndRecordsHeaders) {
  auto st = CheckCurrent(*pool_, "svc", kContract);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.message()), HasSubstr("run `migrate`"));
  ASSERT_THAT(Migrate(*pool_, "svc", kContract), IsOk());
  ASSERT_THAT(Migrate(*pool_, "svc", kContract), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "svc", kContract), IsOk());
  EXPECT_EQ(Scalar("SELECT count(*) FROM svc.schema_migrations"), 3);
  EXPECT_EQ(Scalar("SELECT min_binary_version FROM svc.schema_migrations WHERE version = 2"), 0);
  EXPECT_EQ(Scalar("SELECT min_binary_version FROM svc.schema_migrations WHERE version = 3"), 3);
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'svc' AND "
                   "table_name = 'items' AND column_name = 'legacy'"),
            0);
}

TEST_F(MigrateTest, OlderSchemaIsRefusedUntilMigrated) {
  ASSERT_THAT(Migrate(*pool_, "svc", kBinaryN), IsOk());
  auto st = CheckCurrent(*pool_, "svc", kExpand);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.message()), HasSubstr("run `migrate`"));
  ASSERT_THAT(Migrate(*pool_, "svc", kExpand), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "svc", kExpand), IsOk());
}

TEST_F(MigrateTest, OlderBinaryRunsOnNewerExpandOnlySchema) {
  ASSERT_THAT(Migrate(*pool_, "svc", kExpand), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "svc", kBinaryN), IsOk());
  // A `migrate` Job of the old binary (a rollback of the Job, say) is a no-op.
  EXPECT_THAT(Migrate(*pool_, "svc", kBinaryN), IsOk());
  EXPECT_EQ(Scalar("SELECT max(version) FROM svc.schema_migrations"), 3);
  // Binary N+2 carries a contract for what N used: N+1 still runs, N no longer.
  std::vector<Migration> n2 = kExpand;
  n2.push_back({4, "drop_legacy", "-- min-binary-version: 3\nALTER TABLE items DROP COLUMN legacy;"});
  ASSERT_THAT(Migrate(*pool_, "svc", n2), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "svc", kExpand), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "svc", kBinaryN), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(MigrateTest, ContractRefusesOlderBinary) {
  ASSERT_THAT(Migrate(*pool_, "svc", kContract), IsOk());
  auto st = CheckCurrent(*pool_, "svc", kBinaryN);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.message()), HasSubstr("V3__drop_legacy"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("knowing migration 3"));
  st = Migrate(*pool_, "svc", kBinaryN);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(st.message()), HasSubstr("V3__drop_legacy"));
  std::vector<Migration> v1_only = {kV1};
  EXPECT_THAT(CheckCurrent(*pool_, "svc", v1_only), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(MigrateTest, ContractMayAllowSomeOlderBinaries) {
  // V3 removes what only binary 1 used: binary 2 keeps running.
  std::vector<Migration> m = {kV1, kV2, {3, "drop_legacy", "-- min-binary-version: 2\nSELECT 1;"}};
  ASSERT_THAT(Migrate(*pool_, "svc", m), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "svc", kBinaryN), IsOk());
  EXPECT_THAT(Migrate(*pool_, "svc", kBinaryN), IsOk());
  std::vector<Migration> v1_only = {kV1};
  EXPECT_THAT(CheckCurrent(*pool_, "svc", v1_only), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Migrate(*pool_, "svc", v1_only), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// A schema_migrations table written before min_binary_version existed.
TEST_F(MigrateTest, TableWithoutTheColumnCountsAsExpandOnly) {
  ASSERT_THAT(
      pool_->Query("CREATE SCHEMA old; CREATE TABLE old.schema_migrations (version int PRIMARY KEY, "
                   "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
                   "INSERT INTO old.schema_migrations(version, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')"),
      IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "old", kBinaryN), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "old", kExpand), IsOk());
  std::vector<Migration> n2 = {
      kV1, kV2, kExpandV3, {4, "x", "-- min-binary-version: 4\nCREATE TABLE x (a int);"}};
  ASSERT_THAT(Migrate(*pool_, "old", n2), IsOk());
  EXPECT_EQ(Scalar("SELECT min_binary_version FROM old.schema_migrations WHERE version = 4"), 4);
  EXPECT_EQ(Scalar("SELECT min_binary_version FROM old.schema_migrations WHERE version = 1"), 0);
  EXPECT_THAT(CheckCurrent(*pool_, "old", n2), IsOk());
  EXPECT_THAT(CheckCurrent(*pool_, "old", kExpand), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(MinBinaryVersion, ParsesTheHeader) {
  auto v = [](std::string sql, int version = 5) { return MinBinaryVersion({version, "m", std::move(sql)}); };
  EXPECT_THAT(v(""), IsOkAndHolds(Eq(0)));
  EXPECT_THAT(v("CREATE TABLE a (b int);"), IsOkAndHolds(Eq(0)));
  EXPECT_THAT(v("-- identity owns tenants\nCREATE TABLE a (b int);"), IsOkAndHolds(Eq(0)));
  EXPECT_THAT(v("-- min-binary-version: 3\nDROP TABLE a;"), IsOkAndHolds(Eq(3)));
  EXPECT_THAT(v("-- min-binary-version: 3"), IsOkAndHolds(Eq(3)));
  EXPECT_THAT(v("-- min-binary-version: 5\n"), IsOkAndHolds(Eq(5)));
  EXPECT_THAT(v("-- min-binary-version: 1\r\nDROP TABLE a;"), IsOkAndHolds(Eq(1)));
  EXPECT_THAT(v("--min-binary-version:3\n"), IsOkAndHolds(Eq(3)));
  EXPECT_THAT(v("  --   min-binary-version :  3  \n"), IsOkAndHolds(Eq(3)));
  EXPECT_THAT(v("\xEF\xBB\xBF-- min-binary-version: 2\n"), IsOkAndHolds(Eq(2)));
  EXPECT_THAT(v("-- min-binary-version: 003\n"), IsOkAndHolds(Eq(3)));
  // Prose that mentions the header further down is not a header.
  EXPECT_THAT(v("-- min-binary-version: 3\n-- binaries below min-binary-version 3 read a.b\nDROP TABLE a;"),
              IsOkAndHolds(Eq(3)));
  EXPECT_THAT(v("SELECT '-- min-binary-version: 9';"), IsOkAndHolds(Eq(0)));
}

TEST(MinBinaryVersion, RefusesHostileHeaders) {
  for (std::string sql : std::vector<std::string>{
           "-- min-binary-version:\n",
           "-- min-binary-version\n",
           "-- min-binary-version 3\n",
           "-- min-binary-version: \n",
           "-- min-binary-version: abc\n",
           "-- min-binary-version: -1\n",
           "-- min-binary-version: +2\n",
           "-- min-binary-version: 0\n",
           "-- min-binary-version: 6\n",  // beyond the migration's own version 5
           "-- min-binary-version: 2 3\n",
           "-- min-binary-version: 2x\n",
           "-- min-binary-version: 2.0\n",
           "-- min-binary-version: 0x2\n",
           "-- min-binary-version: 99999999999999999999\n",
           "-- min-binary-version: 2147483648\n",
           std::string("-- min-binary-version: 2") + '\0' + "\n",
           "-- MIN-BINARY-VERSION: 2\n",
           "-- min_binary_version: 2\n",
           "-- Min binary version: 2\n",
           "-- min-binary-versoin: 2\n",
           "-- min-binary-version= 2\n",
           "\n-- min-binary-version: 2\n",
           "-- contract step\n-- min-binary-version: 2\nDROP TABLE a;",
           "CREATE TABLE a (b int);\n  -- min-binary-version: 2\n",
           "-- min-binary-version: 2\n-- min-binary-version: 3\n",
       }) {
    auto r = MinBinaryVersion({5, "hostile", sql});
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument)) << sql;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("V5__hostile")) << sql;
  }
}

TEST_F(MigrateTest, BrokenListsAreRefusedBeforeTouchingTheDatabase) {
  std::vector<Migration> bad_header = {kV1, {2, "bad", "-- min-binary-version: two\nSELECT 1;"}};
  std::vector<Migration> unordered = {kV2, kV1};
  std::vector<Migration> duplicate = {kV1, kV1};
  std::vector<Migration> zero = {{0, "zero", "SELECT 1;"}};
  for (const auto* m : {&bad_header, &unordered, &duplicate, &zero}) {
    EXPECT_THAT(Migrate(*pool_, "svc", *m), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(CheckCurrent(*pool_, "svc", *m), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'svc'"), 0);
}

TEST_F(MigrateTest, ConcurrentMigratorsConverge) {
  // Same binary in four threads.
  {
    std::vector<std::thread> threads;
    std::vector<absl::Status> results(4);
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&, i] { results[i] = Migrate(*pool_, "race", kExpand); });
    for (auto& t : threads) t.join();
    for (const auto& s : results) EXPECT_THAT(s, IsOk());
    EXPECT_THAT(CheckCurrent(*pool_, "race", kExpand), IsOk());
  }
  // Binary N and N+1 at once (a rolling upgrade whose old Job is still retrying), fresh
  // schemas each round: N+1 always wins; N succeeds only if it ran first or V3 is expand.
  for (int round = 0; round < 6; ++round) {
    const auto& newer = round % 2 == 0 ? kExpand : kContract;
    std::string schema = "race" + std::to_string(round);
    absl::Status old_result, new_result;
    std::thread a([&] { old_result = Migrate(*pool_, schema, kBinaryN); });
    std::thread b([&] { new_result = Migrate(*pool_, schema, newer); });
    a.join();
    b.join();
    EXPECT_THAT(new_result, IsOk());
    if (&newer == &kExpand) {
      EXPECT_THAT(old_result, IsOk());
    } else {
      EXPECT_THAT(old_result.code(),
                  AnyOf(Eq(absl::StatusCode::kOk), Eq(absl::StatusCode::kFailedPrecondition)));
    }
    EXPECT_EQ(Scalar("SELECT max(version) FROM " + schema + ".schema_migrations"), 3);
    EXPECT_EQ(Scalar("SELECT count(*) FROM " + schema + ".schema_migrations"), 3);
    EXPECT_THAT(CheckCurrent(*pool_, schema, newer), IsOk());
  }
}

}  // namespace
}  // namespace cloudillo::db
