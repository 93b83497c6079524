// The update log against a real PostgreSQL (the ctest `pgredis` fixture): a new
// document starts with the `meta` map, appends get increasing seqs, compaction keeps
// the state while writers keep appending, tenants stay apart.
#include "doc_store.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "doc_fixture.h"
#include "log_writer.h"

namespace cloudillo::collab {
namespace {

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

using DocStoreTest = DocStoreFixture;

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

// The group commit: many documents in one transaction, each document's updates numbered
// on from its log in batch order, and two batches racing over the same documents (two
// replicas' log writers) never interleave or reuse a seq.
TEST_F(DocStoreTest, BatchesNumberEachDocumentInOrder) {
  ASSERT_EQ(*store_->Append(1, "b1", Typed(5, 0), "alice.test"), 1);
  std::vector<AppendItem> batch = {{1, "b1", Typed(5, 1), "alice.test"},
                                   {1, "b2", Typed(6, 0), "alice.test"},
                                   {2, "b1", Typed(7, 0), "bob.test"},
                                   {1, "b1", Typed(5, 2), ""},
                                   {1, "b2", Typed(6, 1), "alice.test"}};
  auto seqs = store_->AppendBatch(batch);
  ASSERT_TRUE(seqs.ok()) << seqs.status();
  EXPECT_EQ(*seqs, (std::vector<int64_t>{2, 1, 1, 3, 2}));
  EXPECT_EQ(ClockOf(MergedLog(*store_, 1, "b1"), 5), 3u);
  EXPECT_EQ(ClockOf(MergedLog(*store_, 1, "b2"), 6), 2u);
  EXPECT_EQ(ClockOf(MergedLog(*store_, 2, "b1"), 7), 1u);
  EXPECT_EQ(ClockOf(MergedLog(*store_, 2, "b1"), 5), 0u);  // tenants apart
  EXPECT_TRUE(store_->AppendBatch({})->empty());

  constexpr int kRounds = 20;
  std::vector<std::thread> writers;
  for (uint64_t w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (uint64_t i = 0; i < kRounds; ++i) {
        // Opposite document orders in the two writers: the locks must not deadlock.
        AppendItem x{3, "x", Typed(200 + w, i), ""}, y{3, "y", Typed(210 + w, i), ""};
        auto s = store_->AppendBatch(w ? std::vector<AppendItem>{y, x} : std::vector<AppendItem>{x, y});
        ASSERT_TRUE(s.ok()) << s.status();
      }
    });
  }
  for (auto& t : writers) t.join();
  for (const char* doc : {"x", "y"}) {
    auto rows = store_->Load(3, doc, 0, false);
    ASSERT_EQ(rows->size(), size_t(2 * kRounds));
    for (size_t i = 0; i < rows->size(); ++i) EXPECT_EQ((*rows)[i].seq, int64_t(i + 1));
  }
  for (uint64_t w = 0; w < 2; ++w) {
    EXPECT_EQ(ClockOf(MergedLog(*store_, 3, "x"), 200 + w), uint64_t(kRounds));
    EXPECT_EQ(ClockOf(MergedLog(*store_, 3, "y"), 210 + w), uint64_t(kRounds));
  }
}

// The log writer shares commits among concurrent appenders, decides each document's
// updates in seq order, and commits what is still queued when it is destroyed.
TEST_F(DocStoreTest, LogWriterGroupsCommitsAndDecidesInOrder) {
  constexpr int kThreads = 4, kPerThread = 30;
  std::mutex mu;
  std::map<std::string, std::vector<int64_t>> decided;  // per document, in decision order
  std::atomic<int> failures{0};
  prometheus::Registry registry;
  {
    LogWriter log(*store_, &registry);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string doc = "lw" + std::to_string(i % 3);
          log.Append({4, doc, Typed(300 + t, uint64_t(i / 3)), ""},
                     [&, doc](absl::StatusOr<int64_t> seq, std::string bytes) {
                       if (!seq.ok() || bytes.empty()) ++failures;
                       std::lock_guard<std::mutex> lock(mu);
                       if (seq.ok()) decided[doc].push_back(*seq);
                     });
        }
      });
    }
    for (auto& t : threads) t.join();
  }  // destroyed with appends still queued: they are committed and decided first
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(decided.size(), 3u);
  for (const auto& [doc, seqs] : decided) {
    ASSERT_EQ(seqs.size(), size_t(kThreads * kPerThread / 3)) << doc;
    for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], int64_t(i + 1)) << doc;
    EXPECT_EQ(store_->Load(4, doc, 0, false)->size(), seqs.size());
  }
  // Every commit is timed, and the batches add up to every update.
  uint64_t commits = 0, batches = 0;
  double updates = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name == "cloudillo_collab_log_commit_seconds")
      commits = family.metric.at(0).histogram.sample_count;
    if (family.name == "cloudillo_collab_log_batch_updates") {
      batches = family.metric.at(0).histogram.sample_count;
      updates = family.metric.at(0).histogram.sample_sum;
    }
  }
  EXPECT_GE(commits, 1u);
  EXPECT_EQ(commits, batches);
  EXPECT_EQ(updates, double(kThreads * kPerThread));
}

// Two replicas' writers committing to the same documents at once: the second waits on
// the first's lock and numbers after its commit, so no seq is taken twice or skipped.
// Each writer waits for every commit before the next, so their commits keep
// overlapping (without the lock, this fails on the primary key).
TEST_F(DocStoreTest, TwoReplicasWritersShareDocumentsWithoutCollisions) {
  constexpr int kPerWriter = 120;
  DocStore other(pool_);
  LogWriter a(*store_, nullptr), b(other, nullptr);
  std::mutex mu;
  std::map<std::string, std::vector<int64_t>> seqs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (LogWriter* w : {&a, &b}) {
    threads.emplace_back([&, w, base = w == &a ? 500 : 600] {
      for (int i = 0; i < kPerWriter; ++i) {
        std::string doc = "rw" + std::to_string(i % 2);
        std::promise<void> done;
        w->Append({5, doc, Typed(uint64_t(base + i % 2), uint64_t(i / 2)), ""},
                  [&, doc](absl::StatusOr<int64_t> seq, std::string) {
                    if (!seq.ok()) ++failures;
                    {
                      std::lock_guard<std::mutex> lock(mu);
                      if (seq.ok()) seqs[doc].push_back(*seq);
                    }
                    done.set_value();
                  });
        done.get_future().wait();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(seqs.size(), 2u);
  for (auto& [doc, got] : seqs) {
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got.size(), size_t(kPerWriter));
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], int64_t(i + 1)) << doc;
    EXPECT_EQ(store_->Load(5, doc, 0, false)->size(), got.size());
  }
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
