#include "waiters.h"

#include <gtest/gtest.h>

namespace cloudillo::gateway {
namespace {

TEST(WaitersTest, NotifyWakesEveryWaiterOfTheTagOnce) {
  Waiters w(10);
  int a = 0, b = 0;
  ASSERT_NE(w.Add("qr:1:x", [&] { ++a; }), 0u);
  ASSERT_NE(w.Add("qr:1:x", [&] { ++a; }), 0u);
  ASSERT_NE(w.Add("qr:1:y", [&] { ++b; }), 0u);
  w.Notify("qr:1:x");
  w.Notify("qr:1:x");
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(w.size(), 1u);
  w.NotifyAll();
  EXPECT_EQ(b, 1);
  EXPECT_EQ(w.size(), 0u);
}

TEST(WaitersTest, CancelledWaitersAreNotWokenAndFreeTheirPlace) {
  Waiters w(1);
  bool woken = false;
  uint64_t id = w.Add("t", [&] { woken = true; });
  ASSERT_NE(id, 0u);
  EXPECT_EQ(w.Add("u", [] {}), 0u);  // full
  w.Cancel("t", id);
  w.Cancel("t", id);  // twice is harmless
  w.Notify("t");
  EXPECT_FALSE(woken);
  EXPECT_NE(w.Add("u", [] {}), 0u);
}

TEST(WaitersTest, AWakeUpMayWaitAgain) {
  Waiters w(4);
  int rounds = 0;
  std::function<void()> again = [&] {
    if (++rounds < 3) w.Add("t", again);
  };
  w.Add("t", again);
  w.Notify("t");
  w.Notify("t");
  w.Notify("t");
  EXPECT_EQ(rounds, 3);
  EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace cloudillo::gateway
