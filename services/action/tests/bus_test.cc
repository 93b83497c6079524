// The bus without a network: frames, the fan-out by tenant, admission limits and the
// bounded send queue. The sockets themselves are covered by tests/e2e/bus.test.mjs.
#include "bus.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cloudillo/rpc/server.h"
#include "cloudillo/v1/action.grpc.pb.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

// Records what the hub hands it.
class FakePeer final : public BusPeer {
 public:
  void Push(std::shared_ptr<const std::string> frame) override { frames.push_back(*frame); }
  void Close(int code, std::string) override { closed_with = code; }
  std::vector<std::string> frames;
  int closed_with = 0;
};

TEST(BusFrames, PingIsAnsweredPongAndOtherCommandsOk) {
  auto pong = AnswerClientFrame(R"({"id":"m1","cmd":"ping"})");
  ASSERT_TRUE(pong.has_value());
  // Field order as the reference serialises BusMessage: id, cmd, data.
  EXPECT_EQ(*pong, R"({"id":"m1","cmd":"ack","data":{"status":"pong"}})");
  auto ok = AnswerClientFrame(R"({"id":"m2","cmd":"typing","data":{"x":1}})");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, R"({"id":"m2","cmd":"ack","data":{"status":"ok"}})");
}

TEST(BusFrames, HostileClientFramesGetNoAnswer) {
  for (const char* bad :
       {"", "not json", "[]", "42", "{\"id\":1,\"cmd\":\"ping\"}", "{\"cmd\":\"ping\"}", "{\"id\":\"x\"}",
        "{\"id\":\"x\",\"cmd\":null}", "{\"id\":\"x\",\"cmd\":\"ping\""}) {
    EXPECT_FALSE(AnswerClientFrame(bad).has_value()) << bad;
  }
  std::string deep(100000, '[');
  EXPECT_FALSE(AnswerClientFrame(deep).has_value());
}

TEST(BusFrames, PushAddsAFreshIdInFront) {
  auto f = PushFrame(R"({"cmd":"ACTION","data":{"actionId":"a1","type":"POST"}})", "id7");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(*f, R"({"id":"id7","cmd":"ACTION","data":{"actionId":"a1","type":"POST"}})");
  EXPECT_EQ(*PushFrame(R"({"cmd":"DB_MAINTENANCE_DONE"})", "i"),
            R"({"id":"i","cmd":"DB_MAINTENANCE_DONE","data":null})");
  for (const char* bad : {"", "{", "[]", R"({"data":1})", R"({"cmd":5})"})
    EXPECT_FALSE(PushFrame(bad, "i")) << bad;
}

TEST(BusFrames, ChannelNamesTheTenant) {
  EXPECT_EQ(TenantOfBusChannel("bus:42"), 42);
  for (const char* bad :
       {"bus:", "bus:0", "bus:-1", "bus:1x", "bus: 1", "bus:99999999999999999999", "inval:1", "bus"})
    EXPECT_FALSE(TenantOfBusChannel(bad).has_value()) << bad;
}

TEST(BusHub, DeliversToEveryConnectionOfTheTenantAndNoOther) {
  BusHub hub({}, nullptr);
  auto a1 = std::make_shared<FakePeer>(), a2 = std::make_shared<FakePeer>(), b = std::make_shared<FakePeer>();
  ASSERT_EQ(hub.Join(1, a1), 0);
  ASSERT_EQ(hub.Join(1, a2), 0);
  ASSERT_EQ(hub.Join(2, b), 0);
  EXPECT_EQ(hub.Deliver("bus:1", R"({"cmd":"ACTION","data":{"n":1}})"), 2u);
  EXPECT_EQ(hub.Deliver("bus:3", R"({"cmd":"ACTION","data":{"n":3}})"), 0u);
  EXPECT_EQ(hub.Deliver("bus:2", "not json"), 0u);
  EXPECT_EQ(hub.Deliver("other", R"({"cmd":"ACTION"})"), 0u);
  ASSERT_EQ(a1->frames.size(), 1u);
  EXPECT_EQ(a1->frames, a2->frames);  // one frame, one id, for every local connection
  EXPECT_TRUE(b->frames.empty());
  json f = json::parse(a1->frames[0]);
  EXPECT_EQ(f["cmd"], "ACTION");
  EXPECT_EQ(f["data"]["n"], 1);
  EXPECT_GE(f["id"].get<std::string>().size(), 16u);
  // Each message gets its own id.
  hub.Deliver("bus:1", R"({"cmd":"ACTION","data":{"n":2}})");
  ASSERT_EQ(a1->frames.size(), 2u);
  EXPECT_NE(json::parse(a1->frames[1])["id"], f["id"]);
  hub.Leave(1, a1.get());
  hub.Deliver("bus:1", R"({"cmd":"ACTION","data":{"n":4}})");
  EXPECT_EQ(a1->frames.size(), 2u);
  EXPECT_EQ(a2->frames.size(), 3u);
  EXPECT_EQ(hub.connections(), 2u);
}

TEST(BusHub, BoundsConnectionsPerTenantAndPerProcessAndCountsThemInTheGauge) {
  auto registry = std::make_shared<prometheus::Registry>();
  BusLimits limits;
  limits.max_per_tenant = 2;
  limits.max_connections = 3;
  BusHub hub(limits, registry.get());
  std::vector<std::shared_ptr<FakePeer>> peers;
  for (int i = 0; i < 6; ++i) peers.push_back(std::make_shared<FakePeer>());
  EXPECT_EQ(hub.Join(1, peers[0]), 0);
  EXPECT_EQ(hub.Join(1, peers[1]), 0);
  EXPECT_EQ(hub.Join(1, peers[2]), kBusCloseTryLater);  // the tenant is full
  EXPECT_EQ(hub.Join(2, peers[3]), 0);
  EXPECT_EQ(hub.Join(3, peers[4]), kBusCloseTryLater);  // the process is full
  EXPECT_EQ(hub.connections(), 3u);
  std::string text = prometheus::TextSerializer().Serialize(registry->Collect());
  EXPECT_NE(text.find("cloudillo_bus_connections 3"), std::string::npos) << text;
  hub.Leave(1, peers[0].get());
  hub.Leave(1, peers[0].get());  // twice: counted once
  EXPECT_EQ(hub.connections(), 2u);
  EXPECT_EQ(hub.Join(3, peers[4]), 0);
  text = prometheus::TextSerializer().Serialize(registry->Collect());
  EXPECT_NE(text.find("cloudillo_bus_connections 3"), std::string::npos) << text;
  // No tenant label: the series is one line.
  EXPECT_EQ(text.find("tenant"), std::string::npos) << text;
}

TEST(BusHub, CloseAllClosesEveryPeerAndAdmitsNoMore) {
  BusHub hub({}, nullptr);
  auto a = std::make_shared<FakePeer>(), b = std::make_shared<FakePeer>();
  ASSERT_EQ(hub.Join(1, a), 0);
  ASSERT_EQ(hub.Join(2, b), 0);
  hub.CloseAll(kBusCloseRestart);
  EXPECT_EQ(a->closed_with, kBusCloseRestart);
  EXPECT_EQ(b->closed_with, kBusCloseRestart);
  EXPECT_EQ(hub.Join(3, std::make_shared<FakePeer>()), kBusCloseTryLater);
}

TEST(SendQueue, BoundedByCountAndBytesInOrder) {
  SendQueue q(3, 10);
  auto s = [](std::string v) { return std::make_shared<const std::string>(std::move(v)); };
  EXPECT_TRUE(q.Push(s("aaaa")));
  EXPECT_TRUE(q.Push(s("bbbb")));
  EXPECT_FALSE(q.Push(s("ccc")));  // 11 bytes
  EXPECT_TRUE(q.Push(s("cc")));
  EXPECT_FALSE(q.Push(s("")));  // a fourth frame
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.bytes(), 10u);
  EXPECT_EQ(*q.Pop(), "aaaa");
  EXPECT_EQ(q.bytes(), 6u);
  EXPECT_TRUE(q.Push(s("dd")));
  EXPECT_EQ(*q.Pop(), "bbbb");
  EXPECT_EQ(*q.Pop(), "cc");
  EXPECT_EQ(*q.Pop(), "dd");
  EXPECT_EQ(q.Pop(), nullptr);
  EXPECT_TRUE(q.empty());
  q.Push(s("x"));
  q.Clear();
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_TRUE(q.empty());
}

TEST(SendQueue, AFrameLargerThanTheByteBoundNeverFits) {
  SendQueue q(10, 4);
  EXPECT_FALSE(q.Push(std::make_shared<const std::string>("12345")));
  EXPECT_TRUE(q.empty());
}

// The real reactor on an in-process channel (no network): what the gateway sees.
class BusOnly final : public cloudillo::v1::ActionEdge::CallbackService {
 public:
  explicit BusOnly(BusHub& hub) : hub_(hub) {}
  grpc::ServerBidiReactor<cloudillo::v1::SocketFrame, cloudillo::v1::SocketFrame>* Bus(
      grpc::CallbackServerContext*) override {
    return hub_.Open();
  }

 private:
  BusHub& hub_;
};

class BusSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.max_client_message = 100;
    limits_.queue_messages = 4;
    hub_ = std::make_unique<BusHub>(limits_, nullptr);
    service_ = std::make_unique<BusOnly>(*hub_);
    server_ = std::make_unique<rpc::RpcServer>(std::make_shared<prometheus::Registry>());
    server_->AddService(service_.get());
    ASSERT_TRUE(server_->Start("", nullptr).ok());
    stub_ = cloudillo::v1::ActionEdge::NewStub(server_->InProcessChannel());
  }
  void TearDown() override { server_->Shutdown(absl::Seconds(1)); }

  using Stream = grpc::ClientReaderWriter<cloudillo::v1::SocketFrame, cloudillo::v1::SocketFrame>;
  std::unique_ptr<Stream> Open(grpc::ClientContext* ctx, bool authenticated, const std::string& subject,
                               const std::string& scope = "") {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));  // never hang
    auto stream = stub_->Bus(ctx);
    cloudillo::v1::SocketFrame open;
    auto* c = open.mutable_open()->mutable_ctx();
    c->set_tn_id(5);
    c->set_id_tag("alice.test");
    c->set_authenticated(authenticated);
    c->set_subject(subject);
    c->set_scope(scope);
    EXPECT_TRUE(stream->Write(open));
    return stream;
  }
  // The reactor leaves the hub in OnDone, which may run just after the client's Finish.
  bool Left() {
    for (int i = 0; i < 200 && hub_->connections() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return hub_->connections() == 0;
  }
  static cloudillo::v1::SocketFrame Text(const std::string& t) {
    cloudillo::v1::SocketFrame f;
    f.set_text(t);
    return f;
  }

  BusLimits limits_;
  std::unique_ptr<BusHub> hub_;
  std::unique_ptr<BusOnly> service_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::unique_ptr<cloudillo::v1::ActionEdge::Stub> stub_;
};

TEST_F(BusSocketTest, AGuestIsAcceptedThenClosedWith4401AndAVisitorWith4403) {
  for (auto [auth, subject, scope, code] :
       {std::make_tuple(false, "", "", 4401), std::make_tuple(true, "bob.test", "", 4403),
        std::make_tuple(true, "alice.test", "file:f1~a:W", 4403)}) {
    grpc::ClientContext ctx;
    auto stream = Open(&ctx, auth, subject, scope);
    cloudillo::v1::SocketFrame f;
    ASSERT_TRUE(stream->Read(&f));
    EXPECT_TRUE(f.has_accepted());
    ASSERT_TRUE(stream->Read(&f));
    ASSERT_TRUE(f.has_close());
    EXPECT_EQ(f.close().code(), code);
    EXPECT_FALSE(stream->Read(&f));
    EXPECT_TRUE(stream->Finish().ok());
  }
  EXPECT_EQ(hub_->connections(), 0u);
}

TEST_F(BusSocketTest, TheOwnerGetsAcksAndPushesAndAnOversizedFrameCloses1009) {
  grpc::ClientContext ctx;
  auto stream = Open(&ctx, true, "alice.test");
  cloudillo::v1::SocketFrame f;
  ASSERT_TRUE(stream->Read(&f));
  ASSERT_TRUE(f.has_accepted());
  ASSERT_TRUE(stream->Write(Text(R"({"id":"1","cmd":"ping"})")));
  ASSERT_TRUE(stream->Read(&f));
  EXPECT_EQ(f.text(), R"({"id":"1","cmd":"ack","data":{"status":"pong"}})");
  // Joined once the first ack came back: a push reaches it.
  EXPECT_EQ(hub_->Deliver("bus:5", R"({"cmd":"ACTION","data":{"n":1}})"), 1u);
  ASSERT_TRUE(stream->Read(&f));
  EXPECT_EQ(json::parse(f.text())["data"]["n"], 1);
  cloudillo::v1::SocketFrame bin;
  bin.set_binary(std::string("\x00\x01", 2));
  ASSERT_TRUE(stream->Write(bin));               // ignored
  ASSERT_TRUE(stream->Write(Text("not json")));  // ignored
  ASSERT_TRUE(stream->Write(Text(std::string(101, 'x'))));
  ASSERT_TRUE(stream->Read(&f));
  ASSERT_TRUE(f.has_close());
  EXPECT_EQ(f.close().code(), kBusCloseTooBig);
  EXPECT_FALSE(stream->Read(&f));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(Left());
}

TEST_F(BusSocketTest, AClientThatReadsNothingIsClosedOnceItsQueueOverflows) {
  grpc::ClientContext ctx;
  auto stream = Open(&ctx, true, "alice.test");
  cloudillo::v1::SocketFrame f;
  ASSERT_TRUE(stream->Read(&f));
  ASSERT_TRUE(stream->Write(Text(R"({"id":"1","cmd":"ping"})")));
  ASSERT_TRUE(stream->Read(&f));
  // Far more than the queue and any transport buffer hold, without reading.
  std::string big = R"({"cmd":"ACTION","data":")" + std::string(64 << 10, 'x') + R"("})";
  for (int i = 0; i < 400 && hub_->connections() > 0; ++i) hub_->Deliver("bus:5", big);
  // What was written before the overflow, then the close, then the end.
  int pushes = 0;
  while (stream->Read(&f) && !f.has_close()) ++pushes;
  ASSERT_TRUE(f.has_close());
  EXPECT_EQ(f.close().code(), kBusCloseTryLater);
  EXPECT_LT(pushes, 400);
  EXPECT_FALSE(stream->Read(&f));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(Left());
}

}  // namespace
}  // namespace cloudillo::action
