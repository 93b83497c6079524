// The live-document hub against a real PostgreSQL: what each client message does to
// the log and to the other connections (no-ops, read-only, hostile frames, awareness
// claims and removals), and two hubs on one log as two replicas whose pub/sub lost a
// message: the gap is filled from the log.
#include "doc_hub.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "doc_fixture.h"
#include "frames.h"

namespace cloudillo::collab {
namespace {

class FakePeer : public DocPeer {
 public:
  void Send(std::shared_ptr<const std::string> frame) override {
    std::lock_guard<std::mutex> lock(mu);
    frames.push_back(*frame);
  }
  std::vector<Message> Parsed() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<Message> out;
    for (const auto& f : frames) out.push_back(*ParseMessage(f));
    return out;
  }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu);
    return frames.size();
  }
  std::mutex mu;
  std::vector<std::string> frames;
};

std::string Aware(uint64_t client, uint64_t clock, const std::string& state) {
  return EncodeAwarenessMessage(EncodeAwareness({{client, clock, state}}));
}

class DocHubTest : public DocStoreFixture {
 protected:
  void SetUp() override {
    DocStoreFixture::SetUp();
    hub_ = std::make_unique<DocHub>(*store_, nullptr, workers_, HubLimits{}, nullptr);
  }
  int64_t Rows(const std::string& doc) {
    return pool_->Query("SELECT count(*) FROM crdt_updates WHERE doc_id = $1", {db::P(doc)})->rows[0].Int(0);
  }
  rpc::WorkerPool workers_{{"test", 2, 64, 0, nullptr}};
  std::unique_ptr<DocHub> hub_;
  PeerInfo writer_{false, "alice.test", "alice.test"};
  PeerInfo reader_{true, "bob.test", "bob.test"};
};

TEST_F(DocHubTest, UpdatesAreStoredBroadcastAndEchoedOnce) {
  auto a = std::make_shared<FakePeer>(), b = std::make_shared<FakePeer>();
  auto ja = hub_->Join(1, "d", a);
  ASSERT_TRUE(ja.ok()) << ja.status();
  auto jb = hub_->Join(1, "d", b);
  ASSERT_TRUE(jb.ok());
  EXPECT_EQ(ParseMessage(ja->sync_step1)->sync, SyncType::kStep1);
  std::string u = Typed(7, 0);
  EXPECT_EQ(hub_->Handle(*ja->doc, a.get(), writer_, EncodeSync(SyncType::kUpdate, u)).close_code, 0);
  EXPECT_EQ(Rows("d"), 2);    // the meta init and this one
  ASSERT_EQ(a->Count(), 1u);  // the echo
  ASSERT_EQ(b->Count(), 1u);
  EXPECT_EQ(b->Parsed()[0].payload, u);
  EXPECT_EQ(b->Parsed()[0].sync, SyncType::kUpdate);
  // The same update again, also as a SyncStep2: a no-op, neither stored nor sent.
  EXPECT_EQ(hub_->Handle(*ja->doc, a.get(), writer_, EncodeSync(SyncType::kStep2, u)).close_code, 0);
  EXPECT_EQ(Rows("d"), 2);
  EXPECT_EQ(b->Count(), 1u);
  // A reader's update is dropped.
  EXPECT_EQ(hub_->Handle(*jb->doc, b.get(), reader_, EncodeSync(SyncType::kUpdate, Typed(8, 0))).close_code,
            0);
  EXPECT_EQ(Rows("d"), 2);
  // SyncStep1 with an empty state vector is answered with everything.
  EXPECT_EQ(
      hub_->Handle(*jb->doc, b.get(), reader_, EncodeSync(SyncType::kStep1, std::string(1, '\0'))).close_code,
      0);
  auto last = b->Parsed().back();
  EXPECT_EQ(last.sync, SyncType::kStep2);
  auto sv = yjs::StateVectorFromUpdate(last.payload);
  auto dec = yjs::DecodeStateVector(*sv);
  EXPECT_EQ(dec->size(), 2u);  // client 1 (meta) and client 7
  hub_->Leave(ja->doc, a.get());
  hub_->Leave(jb->doc, b.get());
}

// What gRPC's thread may decide itself: live edits and awareness, never a SyncStep1
// (its diff reads the whole document) or a message past the quick size.
TEST(DocHubQuick, OnlySmallUpdatesAndAwarenessAreQuick) {
  EXPECT_TRUE(DocHub::IsQuick(EncodeSync(SyncType::kUpdate, "abc")));
  EXPECT_TRUE(DocHub::IsQuick(EncodeSync(SyncType::kStep2, "abc")));
  EXPECT_TRUE(DocHub::IsQuick(EncodeAwarenessMessage("abc")));
  EXPECT_TRUE(DocHub::IsQuick("\xff\xff"));  // malformed: refused at once anyway
  EXPECT_FALSE(DocHub::IsQuick(EncodeSync(SyncType::kStep1, std::string(1, '\0'))));
  EXPECT_FALSE(DocHub::IsQuick(EncodeSync(SyncType::kUpdate, std::string(DocHub::kQuickBytes, 'x'))));
}

TEST_F(DocHubTest, HostileFramesCloseAndStoreNothing) {
  auto a = std::make_shared<FakePeer>();
  auto j = hub_->Join(1, "h", a);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(hub_->Handle(*j->doc, a.get(), writer_, std::string("\x00\x00\xff", 3)).close_code,
            kCloseProtocol);
  EXPECT_EQ(hub_->Handle(*j->doc, a.get(), writer_, EncodeSync(SyncType::kUpdate, "\x01\x02\x03")).close_code,
            kCloseInvalid);
  EXPECT_EQ(hub_->Handle(*j->doc, a.get(), writer_, EncodeSync(SyncType::kStep1, "\xff")).close_code,
            kCloseProtocol);
  EXPECT_EQ(hub_->Handle(*j->doc, a.get(), writer_, std::string("\x03", 1)).close_code, 0);  // ignored
  EXPECT_EQ(Rows("h"), 1);
  HubLimits small;
  small.max_update_bytes = 8;
  DocHub tight(*store_, nullptr, workers_, small, nullptr);
  auto t = tight.Join(1, "h", a);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(tight.Handle(*t->doc, a.get(), writer_, EncodeSync(SyncType::kUpdate, Typed(9, 0))).close_code,
            kCloseTooBig);
  EXPECT_EQ(Rows("h"), 1);
  tight.Leave(t->doc, a.get());
  hub_->Leave(j->doc, a.get());
}

TEST_F(DocHubTest, AwarenessClaimsAndRemovals) {
  auto a = std::make_shared<FakePeer>(), b = std::make_shared<FakePeer>();
  auto ja = hub_->Join(1, "aw", a);
  auto jb = hub_->Join(1, "aw", b);
  ASSERT_TRUE(ja.ok() && jb.ok());
  auto& doc = *ja->doc;
  hub_->Handle(doc, a.get(), writer_, Aware(100, 1, R"({"user":{"idTag":"ceo.test"}})"));
  ASSERT_EQ(b->Count(), 1u);
  auto entries = DecodeAwareness(b->Parsed()[0].payload);
  EXPECT_EQ(nlohmann::json::parse((*entries)[0].state_json)["user"]["idTag"], "alice.test");
  // b cannot speak for a's client id.
  hub_->Handle(doc, b.get(), reader_, Aware(100, 2, "{}"));
  EXPECT_EQ(a->Count(), 1u);  // only its own echo
  // At most 8 client ids per connection.
  for (uint64_t c = 200; c < 220; ++c) hub_->Handle(doc, b.get(), reader_, Aware(c, 1, "{}"));
  EXPECT_EQ(a->Count(), 1u + 8u);
  // `user` not an object: the message is dropped.
  hub_->Handle(doc, a.get(), writer_, Aware(100, 3, R"({"user":"x"})"));
  EXPECT_EQ(b->Count(), 1u + 8u);  // a's first, its own eight
  // a leaves: its client id is announced gone, with a later clock.
  hub_->Leave(ja->doc, a.get());
  auto last = DecodeAwareness(b->Parsed().back().payload);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].client, 100u);
  EXPECT_EQ((*last)[0].clock, 2u);
  EXPECT_TRUE((*last)[0].removed());
  hub_->Leave(jb->doc, b.get());
}

TEST_F(DocHubTest, ReplicaFillsAGapFromTheLog) {
  DocHub other(*store_, nullptr, workers_, HubLimits{}, nullptr);
  auto a = std::make_shared<FakePeer>(), b = std::make_shared<FakePeer>();
  auto ja = hub_->Join(3, "r", a);
  auto jb = other.Join(3, "r", b);
  ASSERT_TRUE(ja.ok() && jb.ok());
  // Two updates on the first replica; the second replica hears only of the last one.
  ASSERT_EQ(hub_->Handle(*ja->doc, a.get(), writer_, EncodeSync(SyncType::kUpdate, Typed(5, 0))).close_code,
            0);
  ASSERT_EQ(hub_->Handle(*ja->doc, a.get(), writer_, EncodeSync(SyncType::kUpdate, Typed(5, 1))).close_code,
            0);
  std::string msg = "u" + std::string(16, 'Z');
  int64_t seq = 3;
  for (int i = 7; i >= 0; --i) msg.push_back(char((seq >> (8 * i)) & 0xff));
  msg += Typed(5, 1);
  other.Deliver("crdt:3:r", msg);
  for (int i = 0; i < 200 && b->Count() < 2; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_GE(b->Count(), 2u);
  // b's state now holds both characters: a SyncStep1 from a client that has them gets
  // nothing of client 5 back.
  auto sv = yjs::EncodeStateVector({{5, 2}, {1, 1}});
  other.Handle(*jb->doc, b.get(), reader_, EncodeSync(SyncType::kStep1, sv));
  auto diff = yjs::DecodeUpdate(b->Parsed().back().payload);
  ASSERT_TRUE(diff.ok());
  EXPECT_TRUE(diff->structs.empty());
  // Unknown channels and our own messages are ignored.
  other.Deliver("crdt:4:r", msg);
  hub_->Leave(ja->doc, a.get());
  other.Leave(jb->doc, b.get());
}

}  // namespace
}  // namespace cloudillo::collab
