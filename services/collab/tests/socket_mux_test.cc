// The service's end of a multiplexed socket stream (socket_mux.h) over a real in-process
// gRPC call, with a test protocol: the order a gateway relies on (accepted first, a
// frame queued before the upgrade after it, ready after each handled message), the
// `ready` rule, a client's close and the stream's end reaching every handler once, and
// a socket that falls behind closed with its "too slow" code while others go on.
#include "socket_mux.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>

#include "collab_service.h"

namespace cloudillo::collab {
namespace {

using cloudillo::v1::MuxEvent;
using cloudillo::v1::MuxFrame;

std::atomic<int> g_done{0};

// A handler hears of its end just after the close went out: wait a moment for it.
int DoneAfterAMoment(int expected) {
  for (int i = 0; i < 200 && g_done < expected; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return g_done;
}

// "hold": handled without asking for the next message; "flood": 100 messages at once.
class TestHandler final : public SocketHandler {
 public:
  void Opened(std::shared_ptr<SocketLink> link, cloudillo::v1::ApiRequest open) override {
    link_ = std::move(link);
    if (open.path().count("reject")) return link_->CloseWith(4403, "no");
    link_->Queue(std::make_shared<const std::string>("hello"), false);  // before the upgrade
    link_->Accept();
    link_->ReadNext();
  }
  void OnMessage(std::string data, bool binary) override {
    if (data == "hold") return;
    if (data == "flood") {
      for (int i = 0; i < 100; ++i)
        link_->Queue(std::make_shared<const std::string>(std::string(100, 'f')), false);
      return;
    }
    link_->Queue(std::make_shared<const std::string>("echo:" + data), !binary);
    link_->ReadNext();
  }
  void OnDone() override { ++g_done; }

 private:
  std::shared_ptr<SocketLink> link_;
};

class TestEdge final : public cloudillo::v1::CollabEdge::CallbackService {
 public:
  explicit TestEdge(const SocketLimits& limits) : limits_(limits) {}
  grpc::ServerBidiReactor<MuxFrame, MuxFrame>* CrdtSockets(grpc::CallbackServerContext*) override {
    return SocketMux::Start(limits_, 1013, [] { return std::make_shared<TestHandler>(); });
  }

 private:
  const SocketLimits& limits_;
};

class SocketMuxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.queue_messages = 8;
    grpc::ServerBuilder b;
    b.RegisterService(&edge_);
    server_ = b.BuildAndStart();
    stub_ = cloudillo::v1::CollabEdge::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
    stream_ = stub_->CrdtSockets(&ctx_);
    g_done = 0;
  }
  void TearDown() override {
    ctx_.TryCancel();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  void Open(uint64_t id, const std::string& path_key = "docId") {
    MuxFrame f;
    auto* ev = f.add_events();
    ev->set_socket(id);
    (*ev->mutable_open()->mutable_path())[path_key] = "d";
    ASSERT_TRUE(stream_->Write(f));
  }
  void Message(uint64_t id, const std::string& data) {
    MuxFrame f;
    auto* ev = f.add_events();
    ev->set_socket(id);
    ev->set_binary(data);
    ASSERT_TRUE(stream_->Write(f));
  }
  // The next event, as "<socket> <kind>[:data]".
  std::string Next() {
    while (pending_.empty()) {
      MuxFrame f;
      if (!stream_->Read(&f)) return "end";
      for (const auto& ev : f.events()) {
        std::string s = std::to_string(ev.socket()) + " ";
        if (ev.has_accepted()) s += "accepted";
        if (ev.has_ready()) s += "ready";
        if (ev.has_binary()) s += "binary:" + ev.binary();
        if (ev.has_text()) s += "text:" + ev.text();
        if (ev.has_close()) s += "close:" + std::to_string(ev.close().code());
        pending_.push_back(s);
      }
    }
    std::string s = pending_.front();
    pending_.erase(pending_.begin());
    return s;
  }

  SocketLimits limits_;
  TestEdge edge_{limits_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<cloudillo::v1::CollabEdge::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<MuxFrame, MuxFrame>> stream_;
  std::vector<std::string> pending_;
};

TEST_F(SocketMuxTest, OrderReadyAndCloses) {
  Open(1);
  EXPECT_EQ(Next(), "1 accepted");
  EXPECT_EQ(Next(), "1 binary:hello");
  EXPECT_EQ(Next(), "1 ready");
  Message(1, "a");
  EXPECT_EQ(Next(), "1 binary:echo:a");
  EXPECT_EQ(Next(), "1 ready");

  // Refused: still accepted first, so the client sees the code.
  Open(2, "reject");
  EXPECT_EQ(Next(), "2 accepted");
  EXPECT_EQ(Next(), "2 close:4403");
  EXPECT_EQ(DoneAfterAMoment(1), 1);
  Message(2, "late");  // a socket that ended here: dropped

  // A message without a `ready` for it breaks the protocol: that socket alone closes.
  Open(3);
  EXPECT_EQ(Next(), "3 accepted");
  EXPECT_EQ(Next(), "3 binary:hello");
  EXPECT_EQ(Next(), "3 ready");
  Message(3, "hold");
  Message(3, "again");
  EXPECT_EQ(Next(), "3 close:1008");
  EXPECT_EQ(DoneAfterAMoment(2), 2);

  // The client's close ends the socket once.
  MuxFrame f;
  f.add_events()->set_socket(1);
  f.mutable_events(0)->mutable_close()->set_code(1001);
  ASSERT_TRUE(stream_->Write(f));
  Message(1, "b");  // gone: no echo
  Open(4);
  EXPECT_EQ(Next(), "4 accepted");
  EXPECT_EQ(DoneAfterAMoment(3), 3);

  // The stream's end reaches the handler of every socket still open.
  stream_->WritesDone();
  while (Next() != "end") {
  }
  EXPECT_TRUE(stream_->Finish().ok());
  EXPECT_EQ(DoneAfterAMoment(4), 4);
}

TEST_F(SocketMuxTest, ASocketTooFarBehindIsClosedAlone) {
  Open(1);
  Open(2);
  for (int i = 0; i < 6; ++i) Next();  // accepted, hello, ready of both
  Message(1, "flood");
  Message(2, "x");
  std::vector<std::string> of1;
  bool echoed2 = false;
  while (of1.empty() || of1.back().rfind("1 close", 0) != 0) {
    std::string e = Next();
    ASSERT_NE(e, "end");
    if (e.rfind("1 ", 0) == 0) of1.push_back(e);
    if (e == "2 binary:echo:x") echoed2 = true;
  }
  EXPECT_EQ(of1.back(), "1 close:1013");
  EXPECT_LT(of1.size(), 100u);  // the queue was cut, not sent
  while (!echoed2) echoed2 = Next() == "2 binary:echo:x";
  EXPECT_EQ(DoneAfterAMoment(1), 1);
}

}  // namespace
}  // namespace cloudillo::collab
