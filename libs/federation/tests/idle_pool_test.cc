#include "idle_pool.h"

#include <gtest/gtest.h>

namespace cloudillo::federation {
namespace {

std::unique_ptr<Connection> Unconnected() { return std::make_unique<Connection>(nullptr); }

TEST(IdlePool, BoundsPerDestinationAndInTotal) {
  IdlePool pool(2, 3, std::chrono::seconds(30));
  for (int i = 0; i < 5; ++i) pool.Put("a", Unconnected());
  EXPECT_EQ(pool.size(), 2u);  // the oldest of "a" went first
  pool.Put("b", Unconnected());
  EXPECT_EQ(pool.size(), 3u);
  pool.Put("c", Unconnected());  // full: the newcomer is closed, not someone else's
  EXPECT_EQ(pool.size(), 3u);
}

TEST(IdlePool, ExpiresIdleConnectionsAndSkipsDeadOnes) {
  IdlePool expiring(8, 8, std::chrono::nanoseconds(0));
  expiring.Put("a", Unconnected());
  expiring.Put("b", Unconnected());  // prunes "a"
  EXPECT_LE(expiring.size(), 1u);
  EXPECT_EQ(expiring.Take("b"), nullptr);

  IdlePool pool(8, 8, std::chrono::seconds(30));
  pool.Put("a", Unconnected());
  EXPECT_EQ(pool.Take("a"), nullptr);  // never connected: not alive, closed
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.Take("nothing"), nullptr);
}

}  // namespace
}  // namespace cloudillo::federation
