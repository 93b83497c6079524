#include "cloudillo/cache/lru_map.h"

#include <gtest/gtest.h>

#include <string>

namespace cloudillo::cache {
namespace {

TEST(LruMap, EvictsTheLeastRecentlyUsed) {
  LruMap<std::string, int> m(2);
  m.Put("a", 1);
  m.Put("b", 2);
  ASSERT_NE(m.Find("a"), nullptr);  // a is now the most recent
  m.Put("c", 3);                    // evicts b
  EXPECT_EQ(m.Find("b"), nullptr);
  EXPECT_EQ(*m.Find("a"), 1);
  EXPECT_EQ(*m.Find("c"), 3);
  EXPECT_EQ(m.size(), 2u);
}

TEST(LruMap, OldestIsTheNextToGo) {
  LruMap<int, int> m(2);
  EXPECT_EQ(m.Oldest(), nullptr);
  m.EraseOldest();  // nothing to do
  m.Put(1, 10);
  m.Put(2, 20);
  EXPECT_EQ(*m.Oldest(), 10);
  m.EraseOldest();
  EXPECT_EQ(m.Find(1), nullptr);
  EXPECT_EQ(*m.Oldest(), 20);
  m.EraseOldest();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.Oldest(), nullptr);
  m.Put(3, 30);  // the list is whole again after emptying
  EXPECT_EQ(*m.Oldest(), 30);
}

TEST(LruMap, ReplaceEraseAndEraseIf) {
  LruMap<int, int> m(10);
  for (int i = 0; i < 5; ++i) m.Put(i, i);
  m.Put(3, 30);
  EXPECT_EQ(*m.Find(3), 30);
  EXPECT_TRUE(m.Erase(3));
  EXPECT_FALSE(m.Erase(3));
  m.EraseIf([](int k, int) { return k % 2 == 0; });
  EXPECT_EQ(m.size(), 1u);
  EXPECT_NE(m.Find(1), nullptr);
  m.Clear();
  EXPECT_EQ(m.size(), 0u);
}

TEST(LruMap, AFloodOfNewKeysNeverGrowsPastCapacity) {
  LruMap<int, std::string> m(100);
  for (int i = 0; i < 100000; ++i) m.Put(i, "x");
  EXPECT_EQ(m.size(), 100u);
  EXPECT_NE(m.Find(99999), nullptr);
  EXPECT_EQ(m.Find(0), nullptr);
}

// The promise behind skipping moves for recent entries: whatever is found again before
// three quarters of the capacity in new keys went by is never evicted.
TEST(LruMap, EntriesInUseSurviveAStreamOfNewKeys) {
  LruMap<int, int> m(100);
  for (int hot = 0; hot < 20; ++hot) m.Put(hot, hot);
  for (int round = 1; round <= 10000; ++round) {
    m.Put(1000000 + round, round);  // a stream of one-off keys
    if (round % 50 != 0) continue;  // 50 new keys between visits: fewer than 75
    for (int hot = 0; hot < 20; ++hot) {
      int* v = m.Find(hot);
      ASSERT_NE(v, nullptr) << "key " << hot << " evicted in round " << round;
      EXPECT_EQ(*v, hot);
    }
  }
  EXPECT_EQ(m.size(), 100u);
  EXPECT_EQ(m.Find(1000000 + 9900), nullptr);  // one-off keys do go
}

}  // namespace
}  // namespace cloudillo::cache
