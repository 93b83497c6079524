#include "cloudillo/db/pool.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <future>
#include <thread>

#include "cloudillo/core/deadline.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/testing/status_matchers.h"
#include "cloudillo/testing/test_env.h"

namespace cloudillo::db {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = Pool::Connect(cloudillo::testing::CreateTestDatabase(), 4);
    ASSERT_THAT(pool, IsOk());
    pool_ = *pool;
  }
  std::shared_ptr<Pool> pool_;
};

const std::vector<Migration> kMigrations = {
    {1, "items",
     "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL CHECK (name <> ''));"
     "CREATE INDEX items_name ON items(name);"},
    {2, "tags", "CREATE TABLE tags (item_id bigint REFERENCES items(id), tag text);"},
};

TEST_F(PoolTest, ErrorsMapToStatusCodes) {
  ASSERT_THAT(Migrate(*pool_, "svc", kMigrations), IsOk());
  ASSERT_THAT(pool_->Query("INSERT INTO svc.items VALUES ($1, $2)", {P(1), P("a")}), IsOk());
  EXPECT_THAT(pool_->Query("INSERT INTO svc.items VALUES ($1, $2)", {P(1), P("b")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(pool_->Query("INSERT INTO svc.items VALUES ($1, $2)", {P(2), P("")}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(pool_->Query("INSERT INTO svc.tags VALUES ($1, $2)", {P(99), P("x")}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(pool_->Query("SELECT $1::int", {P("not a number")}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(pool_->Query("SELEC nonsense"), StatusIs(absl::StatusCode::kInternal));
  // PostgreSQL's text (constraint and table names, values) stays out of the status.
  auto dup = pool_->Query("INSERT INTO svc.items VALUES ($1, $2)", {P(1), P("b")});
  EXPECT_EQ(std::string(dup.status().message()).find("items"), std::string::npos) << dup.status();
  auto bad = pool_->Query("SELECT $1::int", {P("not a number")});
  EXPECT_EQ(std::string(bad.status().message()).find("not a number"), std::string::npos) << bad.status();
}

TEST_F(PoolTest, QueriesEndWithTheCallersDeadline) {
  {
    DeadlineScope scope(absl::Now() + absl::Milliseconds(300));
    absl::Time start = absl::Now();
    EXPECT_THAT(pool_->Query("SELECT pg_sleep(5)"), StatusIs(absl::StatusCode::kDeadlineExceeded));
    EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  }
  {
    DeadlineScope past(absl::Now() - absl::Seconds(1));
    EXPECT_THAT(pool_->Query("SELECT 1"), StatusIs(absl::StatusCode::kDeadlineExceeded));
  }
  // Outside any scope the connection is back to the default bound and works.
  auto r = pool_->Query("SELECT current_setting('statement_timeout')");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rows[0].Str(0), "30s");
}

TEST_F(PoolTest, TransactionRollsBackOnError) {
  ASSERT_THAT(Migrate(*pool_, "svc", kMigrations), IsOk());
  absl::Status st = pool_->Transact([](Tx& tx) -> absl::Status {
    auto r = tx.Query("INSERT INTO svc.items VALUES (10, 'x')");
    if (!r.ok()) return r.status();
    return absl::AbortedError("changed my mind");
  });
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kAborted));
  auto r = pool_->Query("SELECT count(*) FROM svc.items");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rows[0].Int(0), 0);
  // A failed statement inside poisons the transaction even if fn ignores it.
  st = pool_->Transact([](Tx& tx) -> absl::Status {
    (void)tx.Query("INSERT INTO svc.items VALUES (11, 'y')");
    (void)tx.Query("INSERT INTO svc.items VALUES (11, 'y')");
    return absl::OkStatus();
  });
  r = pool_->Query("SELECT count(*) FROM svc.items");
  EXPECT_EQ(r->rows[0].Int(0), 0);
}

TEST_F(PoolTest, NullsAndTypes) {
  auto r = pool_->Query("SELECT $1::text, $2::bigint, true, NULL::text", {Null(), P(int64_t{1} << 40)});
  ASSERT_THAT(r, IsOk());
  const Row& row = r->rows[0];
  EXPECT_TRUE(row.IsNull(0));
  EXPECT_EQ(row.Int(1), int64_t{1} << 40);
  EXPECT_TRUE(row.Bool(2));
  EXPECT_EQ(row.Str(3), "");
  EXPECT_THAT(pool_->Ping(), IsOk());
}

// A plan cached while a queue was empty scans it whole once it has filled; a statement
// planned per call finds its rows by index. Both statements here are the same query.
TEST(PoolPlans, APlannedPerCallStatementFollowsTheTablesSize) {
  auto connected = Pool::Connect(cloudillo::testing::CreateTestDatabase(), 1);
  ASSERT_THAT(connected, IsOk());
  Pool& pool = **connected;
  // A queue's life: analyzed when just drained, a few rows while the plan is cached,
  // then a burst.
  ASSERT_THAT(
      pool.Query("CREATE TABLE q (k bigint PRIMARY KEY, pad text); "
                 "INSERT INTO q SELECT g, 'x' FROM generate_series(1, 60) g; DELETE FROM q; ANALYZE q; "
                 "INSERT INTO q SELECT g, repeat('x', 100) FROM generate_series(1, 300) g"),
      IsOk());
  const std::string cached = "SELECT count(*) FROM q JOIN unnest($1::bigint[]) AS d(k) USING (k)";
  const std::string per_call = PlannedPerCall(cached);
  for (int i = 0; i < 8; ++i) {
    ASSERT_THAT(pool.Query(cached, {P("{1,2,3}")}), IsOk());
    ASSERT_THAT(pool.Query(per_call, {P("{1,2,3}")}), IsOk());
  }
  ASSERT_THAT(pool.Query("INSERT INTO q SELECT g, repeat('x', 100) FROM generate_series(301, 50000) g"),
              IsOk());
  // A backend flushes its table counters when a statement ends, once forced to.
  auto seq_rows_read = [&]() -> int64_t {
    if (!pool.Query("SELECT pg_stat_force_next_flush()").ok()) return -1;
    auto r = pool.Query(
        "SELECT pg_stat_clear_snapshot(), (SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = "
        "'q')");
    return r.ok() ? r->rows[0].Int(1) : -1;
  };
  auto rows_read = [&](const std::string& sql) -> int64_t {
    int64_t before = seq_rows_read();
    auto r = pool.Query(sql, {P("{1,2,3}")});
    int64_t after = seq_rows_read();
    if (before < 0 || after < 0 || !r.ok() || r->rows[0].Int(0) != 3) return -1;
    return after - before;
  };
  EXPECT_EQ(rows_read(per_call), 0);
  EXPECT_GE(rows_read(cached), 49000);  // why PlannedPerCall exists
  auto prepared =
      pool.Query("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%planned per call%'");
  ASSERT_THAT(prepared, IsOk());
  EXPECT_EQ(prepared->rows[0].Int(0), 0);
}

double MetricValue(prometheus::Registry& r, const std::string& name, const std::string& pool) {
  for (const auto& f : r.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      if (m.label.size() != 1 || m.label[0].name != "pool" || m.label[0].value != pool) continue;
      if (f.type == prometheus::MetricType::Histogram) return double(m.histogram.sample_count);
      return m.gauge.value;
    }
  }
  return -1;
}

TEST(PoolMetrics, SizeInUseWaitersAndWaitTime) {
  auto pool = Pool::Connect(cloudillo::testing::CreateTestDatabase(), 2);
  ASSERT_THAT(pool, IsOk());
  prometheus::Registry registry;
  (*pool)->ExportMetrics(registry, "svc");
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_connections", "svc"), 2);
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_connections_in_use", "svc"), 0);
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_waiters", "svc"), 0);

  // Two transactions hold both connections until released; a third query must wait.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::thread> holders;
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back([&] {
      (void)(*pool)->Transact([&](Tx&) {
        released.wait();
        return absl::OkStatus();
      });
    });
  }
  auto wait_for = [&](const std::string& name, double want) {
    for (int i = 0; i < 500 && MetricValue(registry, name, "svc") != want; ++i)
      absl::SleepFor(absl::Milliseconds(10));
    return MetricValue(registry, name, "svc");
  };
  EXPECT_EQ(wait_for("cloudillo_db_pool_connections_in_use", 2), 2);
  std::thread waiter([&] { EXPECT_THAT((*pool)->Query("SELECT 1"), IsOk()); });
  EXPECT_EQ(wait_for("cloudillo_db_pool_waiters", 1), 1);
  absl::SleepFor(absl::Milliseconds(50));
  release.set_value();
  waiter.join();
  for (auto& t : holders) t.join();
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_waiters", "svc"), 0);
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_connections_in_use", "svc"), 0);
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_wait_seconds", "svc"), 3);
  // The waiter's 50 ms and more are in the histogram's sum.
  for (const auto& f : registry.Collect()) {
    if (f.name == "cloudillo_db_pool_wait_seconds") EXPECT_GE(f.metric[0].histogram.sample_sum, 0.05);
  }
  // A second pool in the same process (all-in-one) is its own series.
  auto other = Pool::Connect(cloudillo::testing::CreateTestDatabase(), 3);
  ASSERT_THAT(other, IsOk());
  (*other)->ExportMetrics(registry, "other");
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_connections", "other"), 3);
  EXPECT_EQ(MetricValue(registry, "cloudillo_db_pool_connections", "svc"), 2);
}

TEST(PoolConnect, UnreachableIsUnavailable) {
  EXPECT_THAT(Pool::Connect("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", 1),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace cloudillo::db
