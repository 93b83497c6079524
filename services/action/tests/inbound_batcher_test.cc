// Group commit of POST /api/inbox: many waiting requests share one write, nobody is
// answered before the write that holds its row returned, a failed write fails exactly
// its own batch, and a full queue refuses at once instead of growing.
#include "inbound_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace cloudillo::action {
namespace {

InboundItem Item(int i) {
  return InboundItem{1, "alice.test", "token-" + std::to_string(i), {}, "192.0.2.1"};
}

// A writer the test holds until released, recording what each call wrote.
class GatedWriter {
 public:
  absl::Status Write(const std::vector<InboundItem>& items) {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    std::vector<std::string> tokens;
    for (const auto& it : items) tokens.push_back(it.token);
    batches_.push_back(tokens);
    committed_ += int(items.size());
    return fail_ ? absl::InternalError("disk on fire") : absl::OkStatus();
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  int committed() {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_;
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  void set_fail(bool f) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = f;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false, fail_ = false;
  int entered_ = 0, committed_ = 0;
  std::vector<std::vector<std::string>> batches_;
};

TEST(InboundBatcher, NoAnswerBeforeTheCommitAndWaitersShareOneWrite) {
  GatedWriter w;
  InboundBatcher b([&](const auto& items) { return w.Write(items); }, {64, 64}, nullptr);
  // The first request's write is held; the next 20 queue up behind it.
  std::atomic<int> answered{0};
  std::atomic<int> answered_before_commit{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 21; ++i) {
    clients.emplace_back([&, i] {
      absl::Status st = b.Submit(Item(i));
      EXPECT_TRUE(st.ok()) << st;
      // Every answered request's token must already be in a finished write.
      bool found = false;
      for (const auto& batch : w.batches())
        for (const auto& t : batch) found = found || t == "token-" + std::to_string(i);
      if (!found) ++answered_before_commit;
      ++answered;
    });
    if (i == 0) w.WaitEntered(1);
  }
  while (b.Waiting() < 20) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(answered.load(), 0) << "answered while the write was still running";
  w.Open();
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), 21);
  EXPECT_EQ(answered_before_commit.load(), 0);
  EXPECT_EQ(w.committed(), 21);
  // One write for the first, one (not 20) for those that waited behind it.
  auto batches = w.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].size(), 1u);
  EXPECT_EQ(batches[1].size(), 20u);
}

// With two flushers, a second write starts while the first still waits (for its
// fsync, in production): what queued meanwhile does not wait for the first.
TEST(InboundBatcher, TwoFlushersKeepTwoWritesInFlight) {
  GatedWriter w;
  InboundBatcher b([&](const auto& items) { return w.Write(items); }, {64, 64, 2}, nullptr);
  std::vector<std::thread> clients;
  clients.emplace_back([&] { EXPECT_TRUE(b.Submit(Item(0)).ok()); });
  w.WaitEntered(1);
  for (int i = 1; i <= 3; ++i) clients.emplace_back([&, i] { EXPECT_TRUE(b.Submit(Item(i)).ok()); });
  // The second flusher takes them into a write of its own while the first is held.
  for (int i = 0; i < 2000 && w.entered() < 2; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(w.entered(), 2);
  w.Open();
  for (auto& t : clients) t.join();
  EXPECT_EQ(w.committed(), 4);
  b.Stop();
}

TEST(InboundBatcher, AFailedWriteFailsItsWholeBatchOnly) {
  GatedWriter w;
  w.set_fail(true);
  w.Open();
  InboundBatcher b([&](const auto& items) { return w.Write(items); }, {64, 64}, nullptr);
  EXPECT_TRUE(absl::IsInternal(b.Submit(Item(1))));
  w.set_fail(false);
  EXPECT_TRUE(b.Submit(Item(2)).ok());
}

TEST(InboundBatcher, BatchesAreCappedAtMaxBatch) {
  GatedWriter w;
  InboundBatcher b([&](const auto& items) { return w.Write(items); }, {100, 4}, nullptr);
  std::vector<std::thread> clients;
  clients.emplace_back([&] { EXPECT_TRUE(b.Submit(Item(0)).ok()); });
  w.WaitEntered(1);
  for (int i = 1; i <= 10; ++i) clients.emplace_back([&, i] { EXPECT_TRUE(b.Submit(Item(i)).ok()); });
  while (b.Waiting() < 10) absl::SleepFor(absl::Milliseconds(1));
  w.Open();
  for (auto& t : clients) t.join();
  EXPECT_EQ(w.committed(), 11);
  for (const auto& batch : w.batches()) EXPECT_LE(batch.size(), 4u);
}

TEST(InboundBatcher, AFullQueueRefusesAtOnceAndRecovers) {
  GatedWriter w;
  InboundBatcher b([&](const auto& items) { return w.Write(items); }, {3, 64}, nullptr);
  std::vector<std::thread> clients;
  clients.emplace_back([&] { EXPECT_TRUE(b.Submit(Item(0)).ok()); });
  w.WaitEntered(1);  // item 0 is being written: the queue itself is empty again
  for (int i = 1; i <= 3; ++i) clients.emplace_back([&, i] { EXPECT_TRUE(b.Submit(Item(i)).ok()); });
  while (b.Waiting() < 3) absl::SleepFor(absl::Milliseconds(1));
  // Three wait: the fourth is refused without waiting for the held write.
  absl::Status st = b.Submit(Item(4));
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  w.Open();
  for (auto& t : clients) t.join();
  EXPECT_TRUE(b.Submit(Item(5)).ok());
  EXPECT_EQ(w.committed(), 5);
}

TEST(InboundBatcher, StopFailsWhatWaitsAndRefusesLater) {
  GatedWriter w;
  auto b = std::make_unique<InboundBatcher>([&](const auto& items) { return w.Write(items); },
                                            BatcherOptions{64, 64}, nullptr);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0}, refused{0};
  clients.emplace_back([&] { b->Submit(Item(0)).ok() ? ++ok : ++refused; });
  w.WaitEntered(1);
  for (int i = 1; i <= 5; ++i) clients.emplace_back([&, i] { b->Submit(Item(i)).ok() ? ++ok : ++refused; });
  while (b->Waiting() < 5) absl::SleepFor(absl::Milliseconds(1));
  std::thread stopper([&] { b->Stop(); });
  absl::SleepFor(absl::Milliseconds(50));
  w.Open();  // the write in flight completes and is answered OK
  stopper.join();
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 5);
  EXPECT_EQ(w.committed(), 1);
  EXPECT_TRUE(absl::IsUnavailable(b->Submit(Item(9))));
}

// POST /api/inbox's way in: no thread waits; each `done` runs once, after the write that
// holds its row returned, with that write's status; a refusal comes back at once.
TEST(InboundBatcher, AsyncSubmitAnswersAfterTheCommitWithoutAWaitingThread) {
  GatedWriter w;
  InboundBatcher b([&](const auto& items) { return w.Write(items); }, {3, 64}, nullptr);
  std::mutex mu;
  std::vector<std::pair<int, absl::Status>> answers;
  std::vector<int> committed_when_answered;
  auto done = [&](int i) {
    return [&, i](absl::Status st) {
      std::lock_guard<std::mutex> lock(mu);
      answers.emplace_back(i, st);
      committed_when_answered.push_back(w.committed());
    };
  };
  ASSERT_TRUE(b.SubmitAsync(Item(0), done(0)).ok());
  w.WaitEntered(1);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(b.SubmitAsync(Item(i), done(i)).ok());  // returns at once
  absl::Status full = b.SubmitAsync(Item(4), done(4));
  EXPECT_TRUE(absl::IsUnavailable(full)) << full;
  absl::SleepFor(absl::Milliseconds(20));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(answers.empty()) << "answered before the write returned";
  }
  w.Open();
  for (int spins = 0; spins < 5000; ++spins) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (answers.size() >= 4) break;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(answers.size(), 4u);  // the refused one never
  for (auto& [i, st] : answers) EXPECT_TRUE(st.ok()) << i << " " << st;
  EXPECT_EQ(answers[0].first, 0);
  EXPECT_GE(committed_when_answered[0], 1);
  for (size_t k = 1; k < 4; ++k) EXPECT_EQ(committed_when_answered[k], 4);
  EXPECT_EQ(w.batches().size(), 2u);
}

}  // namespace
}  // namespace cloudillo::action
