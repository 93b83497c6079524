// The outbound queue of a multiplexed stream (mux_queue.h): a message queued for
// several sockets in a row is one event naming them all, only for a gateway that takes
// that and only while nothing else was queued after it, so every socket's order holds;
// batches respect their byte limit; every socket is charged its share and every byte
// is handed back once written.
#include "mux_queue.h"

#include <gtest/gtest.h>

namespace cloudillo::collab {
namespace {

using cloudillo::v1::MuxFrame;

std::shared_ptr<const std::string> Msg(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

cloudillo::v1::MuxEvent Ready(uint64_t socket) {
  cloudillo::v1::MuxEvent ev;
  ev.set_socket(socket);
  ev.mutable_ready();
  return ev;
}

// Each event as "<socket>[+<also>...] <kind>[:data]".
std::vector<std::string> Events(const MuxFrame& f) {
  std::vector<std::string> out;
  for (const auto& ev : f.events()) {
    std::string s = std::to_string(ev.socket());
    for (uint64_t a : ev.also()) s += "+" + std::to_string(a);
    if (ev.has_ready()) s += " ready";
    if (ev.has_binary()) s += " binary:" + ev.binary();
    if (ev.has_text()) s += " text:" + ev.text();
    out.push_back(s);
  }
  return out;
}

TEST(MuxQueue, AMessageQueuedForSeveralSocketsInARowCrossesOnce) {
  MuxQueue q(true);
  auto update = Msg("update");
  for (uint64_t s : {1, 2, 3}) q.PushData(s, update, false);
  EXPECT_EQ(q.bytes(), 6u);  // once, not three times
  MuxFrame f;
  std::vector<MuxQueue::Charge> charged;
  EXPECT_EQ(q.Take(1 << 20, &f, &charged), 6u);
  EXPECT_EQ(Events(f), (std::vector<std::string>{"1+2+3 binary:update"}));
  EXPECT_EQ(charged, (std::vector<MuxQueue::Charge>{{1, 6}, {2, 6}, {3, 6}}));
  EXPECT_TRUE(q.empty());
  q.Written(6);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(MuxQueue, OnlyTheLastEventCanBeJoined) {
  MuxQueue q(true);
  auto a = Msg("a"), b = Msg("b");
  q.PushData(1, a, false);
  q.Push(2, Ready(2), 0);
  q.PushData(2, a, false);  // after 2's ready: joining the first would reorder 2's events
  q.PushData(3, b, false);
  q.PushData(1, Msg("b"), false);  // same bytes, another message: not joined
  q.PushData(4, b, true);          // same message as text: another event
  MuxFrame f;
  std::vector<MuxQueue::Charge> charged;
  q.Take(1 << 20, &f, &charged);
  EXPECT_EQ(Events(f), (std::vector<std::string>{"1 binary:a", "2 ready", "2 binary:a", "3 binary:b",
                                                 "1 binary:b", "4 text:b"}));
  EXPECT_EQ(charged.size(), 6u);
}

TEST(MuxQueue, NothingJoinsAnEventAlreadyTaken) {
  MuxQueue q(true);
  auto m = Msg("m");
  q.PushData(1, m, false);
  MuxFrame f;
  std::vector<MuxQueue::Charge> charged;
  q.Take(1 << 20, &f, &charged);
  q.PushData(2, m, false);  // the first is being written: a new event
  q.PushData(3, m, false);
  q.Take(1 << 20, &f, &charged);
  EXPECT_EQ(Events(f), (std::vector<std::string>{"2+3 binary:m"}));
}

TEST(MuxQueue, AGatewayThatDidNotAskGetsAnEventPerSocket) {
  MuxQueue q(false);
  auto m = Msg("m");
  for (uint64_t s : {1, 2}) q.PushData(s, m, false);
  EXPECT_EQ(q.bytes(), 2u);
  MuxFrame f;
  std::vector<MuxQueue::Charge> charged;
  q.Take(1 << 20, &f, &charged);
  EXPECT_EQ(Events(f), (std::vector<std::string>{"1 binary:m", "2 binary:m"}));
}

TEST(MuxQueue, ABatchStopsAtItsByteLimitButTakesOneEventAlways) {
  MuxQueue q(true);
  auto big = Msg(std::string(100, 'x'));
  q.PushData(1, big, false);
  q.PushData(2, big, false);
  q.PushData(3, Msg(std::string(50, 'y')), false);
  q.PushData(4, Msg(std::string(60, 'z')), false);
  MuxFrame f;
  std::vector<MuxQueue::Charge> charged;
  EXPECT_EQ(q.Take(10, &f, &charged), 100u);  // over the limit alone: still taken
  EXPECT_EQ(f.events_size(), 1);
  EXPECT_EQ(charged, (std::vector<MuxQueue::Charge>{{1, 100}, {2, 100}}));
  EXPECT_EQ(q.Take(110, &f, &charged), 110u);
  EXPECT_EQ(f.events_size(), 2);
  EXPECT_EQ(charged, (std::vector<MuxQueue::Charge>{{3, 50}, {4, 60}}));
  EXPECT_EQ(q.Take(110, &f, &charged), 0u);
  EXPECT_EQ(f.events_size(), 0);
  EXPECT_EQ(q.bytes(), 210u);  // until written
  q.Written(100);
  q.Written(110);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(MuxQueue, ClearForgetsEverything) {
  MuxQueue q(true);
  auto m = Msg("m");
  q.PushData(1, m, false);
  q.Clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  q.PushData(2, m, false);  // not joined to the cleared event
  MuxFrame f;
  std::vector<MuxQueue::Charge> charged;
  q.Take(1 << 20, &f, &charged);
  EXPECT_EQ(Events(f), (std::vector<std::string>{"2 binary:m"}));
}

}  // namespace
}  // namespace cloudillo::collab
