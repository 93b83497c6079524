// Group commit of the verifiers' writes against a real PostgreSQL (ctest fixture
// `pgredis`): concurrent bodies share one transaction and all commit, a body that
// returns an error leaves nothing behind while its neighbours commit, and a body whose
// SQL fails (poisoning the shared transaction) fails alone.
#include "tx_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "cloudillo/testing/test_env.h"

namespace cloudillo::action {
namespace {

class TxBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 4);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(pool_->Query("CREATE TABLE t (id bigint PRIMARY KEY, note text NOT NULL)").ok());
  }
  int64_t Count(const std::string& where = "true") {
    auto r = pool_->Query("SELECT count(*) FROM t WHERE " + where);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->rows[0].Int(0) : -1;
  }
  static TxBatcher::Body Insert(int64_t id, const std::string& note = "x") {
    return [id, note](db::Tx& tx) -> absl::Status {
      return tx.Query("INSERT INTO t VALUES ($1, $2)", {db::P(id), db::P(note)}).status();
    };
  }
  // Holds the batcher's thread in a first group of its own until Open(), so that the
  // bodies started meanwhile queue up and share the next transaction.
  void HoldFirstGroup(TxBatcher& b) {
    holder_ = std::thread([this, &b] {
      TxBatcher::Body gate = [this](db::Tx&) -> absl::Status {
        while (!open_.load()) absl::SleepFor(absl::Milliseconds(1));
        return absl::OkStatus();
      };
      EXPECT_TRUE(b.Run(gate).ok());
    });
    absl::SleepFor(absl::Milliseconds(50));
  }
  void Open() {
    absl::SleepFor(absl::Milliseconds(200));
    open_ = true;
    holder_.join();
  }
  std::shared_ptr<db::Pool> pool_;
  std::atomic<bool> open_{false};
  std::thread holder_;
};

TEST_F(TxBatcherTest, ConcurrentBodiesAllCommitAndAnswersFollowTheCommit) {
  TxBatcher b(*pool_, 32, 1024, nullptr);
  HoldFirstGroup(b);
  std::vector<std::thread> threads;
  std::atomic<int> missing_after_ok{0};
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      auto body = Insert(i);
      ASSERT_TRUE(b.Run(body).ok());
      // Another connection sees the row as soon as Run() answered: it was committed.
      if (Count("id = " + std::to_string(i)) != 1) ++missing_after_ok;
    });
  }
  Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(Count(), 40);
  EXPECT_EQ(missing_after_ok.load(), 0);
}

TEST_F(TxBatcherTest, AFailingBodyLeavesNothingAndItsNeighboursCommit) {
  TxBatcher b(*pool_, 32, 1024, nullptr);
  // Writes, then refuses: its row must be rolled back to its savepoint.
  TxBatcher::Body refuses = [](db::Tx& tx) -> absl::Status {
    auto st = tx.Query("INSERT INTO t VALUES (100, 'refused')").status();
    if (!st.ok()) return st;
    return absl::AlreadyExistsError("changed its mind");
  };
  // Poisons the transaction with an SQL error (duplicate key).
  ASSERT_TRUE(pool_->Query("INSERT INTO t VALUES (200, 'old')").ok());
  TxBatcher::Body poisons = Insert(200, "dup");
  HoldFirstGroup(b);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  absl::Status refused_st, poisoned_st;
  for (int round = 0; round < 5; ++round) {
    threads.emplace_back([&, round] {
      auto body = Insert(round);
      if (b.Run(body).ok()) ++ok;
    });
  }
  threads.emplace_back([&] { refused_st = b.Run(refuses); });
  threads.emplace_back([&] { poisoned_st = b.Run(poisons); });
  for (int round = 5; round < 10; ++round) {
    threads.emplace_back([&, round] {
      auto body = Insert(round);
      if (b.Run(body).ok()) ++ok;
    });
  }
  Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_TRUE(absl::IsAlreadyExists(refused_st)) << refused_st;
  EXPECT_FALSE(poisoned_st.ok());
  EXPECT_EQ(Count("id < 100"), 10);
  EXPECT_EQ(Count("id = 100"), 0) << "a refusing body's write survived";
  EXPECT_EQ(Count("id = 200 AND note = 'old'"), 1);
}

// RunAtomic bodies (no savepoint: they write nothing when they refuse) in one group
// with savepoint bodies: the refusals leave nothing, an SQL failure fails alone.
TEST_F(TxBatcherTest, AtomicBodiesShareAGroupWithSavepointBodies) {
  TxBatcher b(*pool_, 32, 1024, nullptr);
  ASSERT_TRUE(pool_->Query("INSERT INTO t VALUES (200, 'old')").ok());
  TxBatcher::Body refuses_first = [](db::Tx&) -> absl::Status { return absl::AlreadyExistsError("known"); };
  TxBatcher::Body writes_then_refuses = [](db::Tx& tx) -> absl::Status {
    auto st = tx.Query("INSERT INTO t VALUES (100, 'refused')").status();
    if (!st.ok()) return st;
    return absl::AlreadyExistsError("changed its mind");
  };
  TxBatcher::Body poisons = Insert(200, "dup");
  HoldFirstGroup(b);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  absl::Status refused_atomic, refused_savepoint, poisoned;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto body = Insert(i);
      if (b.RunAtomic(body).ok()) ++ok;
    });
    if (i == 1) threads.emplace_back([&] { refused_atomic = b.RunAtomic(refuses_first); });
    if (i == 2) threads.emplace_back([&] { refused_savepoint = b.Run(writes_then_refuses); });
    if (i == 3) threads.emplace_back([&] { poisoned = b.RunAtomic(poisons); });
  }
  Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_TRUE(absl::IsAlreadyExists(refused_atomic)) << refused_atomic;
  EXPECT_TRUE(absl::IsAlreadyExists(refused_savepoint)) << refused_savepoint;
  EXPECT_FALSE(poisoned.ok());
  EXPECT_EQ(Count("id < 100"), 6);
  EXPECT_EQ(Count("id = 100"), 0) << "a refusing body's write survived";
  EXPECT_EQ(Count("id = 200 AND note = 'old'"), 1);
}

TEST_F(TxBatcherTest, StoppedRefuses) {
  TxBatcher b(*pool_, 32, 1024, nullptr);
  b.Stop();
  auto body = Insert(1);
  EXPECT_TRUE(absl::IsUnavailable(b.Run(body)));
  EXPECT_EQ(Count(), 0);
}

// Only a group of replayable bodies alone skips the wait for its WAL flush; one body
// that must be flushed makes its whole group wait (synchronous_commit as each saw it).
TEST_F(TxBatcherTest, OnlyAnAllReplayableGroupSkipsTheFlush) {
  TxBatcher b(*pool_, 32, 1024, nullptr);
  auto seen = [](std::string* out) {
    return [out](db::Tx& tx) -> absl::Status {
      auto r = tx.Query("SHOW synchronous_commit");
      if (!r.ok()) return r.status();
      *out = r->rows[0].Str(0);
      return absl::OkStatus();
    };
  };
  std::string alone, flushed, mixed_replayable, mixed_flushed;
  TxBatcher::Body body = seen(&alone);
  ASSERT_TRUE(b.RunAtomic(body, Durability::kReplayable).ok());
  EXPECT_EQ(alone, "off");
  body = seen(&flushed);
  ASSERT_TRUE(b.RunAtomic(body).ok());
  EXPECT_EQ(flushed, "on");
  HoldFirstGroup(b);
  TxBatcher::Body r = seen(&mixed_replayable), f = seen(&mixed_flushed);
  std::thread t1([&] { EXPECT_TRUE(b.RunAtomic(r, Durability::kReplayable).ok()); });
  std::thread t2([&] { EXPECT_TRUE(b.RunAtomic(f).ok()); });
  Open();
  t1.join();
  t2.join();
  EXPECT_EQ(mixed_replayable, "on");
  EXPECT_EQ(mixed_flushed, "on");
  // The setting ends with its transaction: the pool's next user sees the default.
  auto after = pool_->Query("SHOW synchronous_commit");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->rows[0].Str(0), "on");
}

}  // namespace
}  // namespace cloudillo::action
