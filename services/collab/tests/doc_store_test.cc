// The update log against a real PostgreSQL (the ctest `pgredis` fixture): a new
// document starts with the `meta` map, appends get increasing seqs, compaction keeps
// the state while writers keep appending, tenants stay apart.
#include "doc_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "cloudillo/db/migrate.h"
#include "cloudillo/testing/test_env.h"

namespace cloudillo::collab {
const std::vector<db::Migration>& Migrations();

namespace {

// One character typed at the end of root text "t" by `client`, at `clock`.
std::string Typed(uint64_t client, uint64_t clock) {
  yjs::Update u;
  yjs::Struct s;
  s.kind = yjs::StructKind::kItem;
  s.id = {client, clock};
  s.length = 1;
  if (clock > 0) {
    s.origin = yjs::Id{client, clock - 1};
  } else {
    s.parent.kind = yjs::Parent::Kind::kKey;
    s.parent.key = "t";
  }
  s.content.kind = yjs::ContentKind::kString;
  s.content.text = "a";
  s.content.utf16_len = 1;
  u.structs.push_back(s);
  return yjs::EncodeUpdate(u);
}

uint64_t ClockOf(const std::string& merged, uint64_t client) {
  auto sv = yjs::StateVectorFromUpdate(merged);
  EXPECT_TRUE(sv.ok());
  auto dec = yjs::DecodeStateVector(*sv);
  for (auto [c, clock] : *dec)
    if (c == client) return clock;
  return 0;
}

std::string MergedLog(DocStore& store, int64_t tn, const std::string& doc) {
  auto rows = store.Load(tn, doc, 0, false);
  EXPECT_TRUE(rows.ok());
  std::vector<std::string> u;
  for (auto& r : *rows) u.push_back(r.bytes);
  auto m = MergeBounded(u, 8, {});
  EXPECT_TRUE(m.ok());
  return *m;
}

class DocStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 6, "collab");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(db::Migrate(*pool_, "collab", Migrations()).ok());
    store_ = std::make_unique<DocStore>(pool_);
  }
  std::shared_ptr<db::Pool> pool_;
  std::unique_ptr<DocStore> store_;
};

TEST_F(DocStoreTest, NewDocumentStartsWithMeta) {
  auto rows = store_->Load(1, "doc1", 0, true);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].bytes, InitialUpdate());
  auto u = yjs::DecodeUpdate(InitialUpdate());
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->structs.at(0).parent.key, "meta");
  EXPECT_EQ(u->structs.at(0).parent_sub.value_or(""), "i");
  // Loaded again: not initialised twice.
  rows = store_->Load(1, "doc1", 0, true);
  ASSERT_EQ(rows->size(), 1u);
  // Without init_if_empty nothing is written.
  EXPECT_TRUE(store_->Load(1, "doc2", 0, false)->empty());
}

TEST_F(DocStoreTest, AppendsAreOrderedAndTenantsApart) {
  auto a = store_->Append(1, "d", Typed(5, 0), "alice.test");
  auto b = store_->Append(1, "d", Typed(5, 1), "alice.test");
  auto other = store_->Append(2, "d", Typed(6, 0), "bob.test");
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  EXPECT_EQ(*a, 1);
  EXPECT_EQ(*b, 2);
  EXPECT_EQ(*other, 1);
  auto rows = store_->Load(1, "d", 1, false);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].seq, 2);
  EXPECT_EQ(ClockOf(MergedLog(*store_, 2, "d"), 5), 0u);
  EXPECT_EQ(ClockOf(MergedLog(*store_, 1, "d"), 5), 2u);
}

TEST_F(DocStoreTest, CompactionKeepsStateInBoundedBatches) {
  for (uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(store_->Append(1, "c", Typed(9, i), "").ok());
  std::string before = MergedLog(*store_, 1, "c");
  CompactionLimits lim;
  lim.batch_rows = 7;
  auto left = store_->Compact(1, "c", lim, {});
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, 1);
  auto rows = store_->Load(1, "c", 0, false);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].seq, 40);  // the run keeps its last seq
  EXPECT_EQ(ClockOf((*rows)[0].bytes, 9), 40u);
  EXPECT_EQ(*yjs::StateVectorFromUpdate(before), *yjs::StateVectorFromUpdate((*rows)[0].bytes));
  // The next append continues after it.
  EXPECT_EQ(*store_->Append(1, "c", Typed(9, 40), ""), 41);
}

TEST_F(DocStoreTest, CompactionsWhileWritersAppendLoseNothing) {
  constexpr int kPerWriter = 60;
  std::vector<std::thread> writers;
  for (uint64_t w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (uint64_t i = 0; i < kPerWriter; ++i)
        ASSERT_TRUE(store_->Append(1, "busy", Typed(100 + w, i), "").ok());
    });
  }
  // Two compactors, as two replicas evicting the document at once.
  std::vector<std::thread> compactors;
  for (int k = 0; k < 2; ++k) {
    compactors.emplace_back([&] {
      CompactionLimits lim;
      lim.batch_rows = 5;
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->Compact(1, "busy", lim, {}).ok());
    });
  }
  for (auto& t : writers) t.join();
  for (auto& t : compactors) t.join();
  std::string merged = MergedLog(*store_, 1, "busy");
  EXPECT_EQ(ClockOf(merged, 100), uint64_t(kPerWriter));
  EXPECT_EQ(ClockOf(merged, 101), uint64_t(kPerWriter));
  // Once the writers are done, one row holds it all.
  ASSERT_EQ(*store_->Compact(1, "busy", {}, {}), 1);
  merged = MergedLog(*store_, 1, "busy");
  EXPECT_EQ(ClockOf(merged, 100), uint64_t(kPerWriter));
  EXPECT_EQ(ClockOf(merged, 101), uint64_t(kPerWriter));
}

TEST(MergeBounded, SameStateAsOneMerge) {
  std::vector<std::string> u;
  for (uint64_t i = 0; i < 30; ++i) u.push_back(Typed(3, i));
  auto bounded = MergeBounded(u, 4, {});
  ASSERT_TRUE(bounded.ok());
  EXPECT_EQ(ClockOf(*bounded, 3), 30u);
}

}  // namespace
}  // namespace cloudillo::collab
