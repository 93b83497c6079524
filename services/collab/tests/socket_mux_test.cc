// The service's end of a multiplexed socket stream (socket_mux.h) over a real in-process
// gRPC call, with a test protocol: the order a gateway relies on (accepted first, a
// frame queued before the upgrade after it, ready after each handled message), the
// `ready` rule, a client's close and the stream's end reaching every handler once, and
// a socket that falls behind closed with its "too slow" code while others go on, and
// a message for several sockets reaching each once.
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
std::mutex g_links_mu;
std::vector<std::shared_ptr<SocketLink>> g_links;  // every test socket's link, in order of opening

// A handler hears of its end just after the close went out: wait a moment for it.
int DoneAfterAMoment(int expected) {
  for (int i = 0; i < 200 && g_done < expected; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return g_done;
}

// "hold": handled without asking for the next message; "flood": 100 messages at once;
// "all": 600 KB to this socket (a write that often holds the stream while the rest
// queues), then one shared message to every socket opened so far.
class TestHandler final : public SocketHandler {
 public:
  void Opened(std::shared_ptr<SocketLink> link, cloudillo::v1::ApiRequest open) override {
    link_ = std::move(link);
    if (open.path().count("reject")) return link_->CloseWith(4403, "no");
    {
      std::lock_guard<std::mutex> lock(g_links_mu);
      g_links.push_back(link_);
    }
    link_->Queue(std::make_shared<const std::string>("hello"), false);  // before the upgrade
    link_->Accept();
    link_->ReadNext();
  }
  void OnMessage(std::string data, bool binary) override {
    if (data == "hold") return;
    if (data == "all") {
      link_->Queue(std::make_shared<const std::string>(std::string(600 << 10, 'b')), false);
      auto news = std::make_shared<const std::string>("news");
      std::lock_guard<std::mutex> lock(g_links_mu);
      for (auto& l : g_links) l->Queue(news, false);
      return link_->ReadNext();
    }
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
  grpc::ServerBidiReactor<MuxFrame, MuxFrame>* CrdtSockets(grpc::CallbackServerContext* ctx) override {
    return SocketMux::Start(ctx, limits_, 1013, [] { return std::make_shared<TestHandler>(); });
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
    Connect(false);
    g_done = 0;
    std::lock_guard<std::mutex> lock(g_links_mu);
    g_links.clear();
  }
  void TearDown() override {
    ctx_->TryCancel();
    {
      std::lock_guard<std::mutex> lock(g_links_mu);
      g_links.clear();
    }
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  // A stream as a gateway opens it, asking for shared messages (`also`) or not.
  void Connect(bool also) {
    if (ctx_) {
      ctx_->TryCancel();
      while (Next() != "end") {
      }
      stream_->Finish();
      pending_.clear();
    }
    ctx_ = std::make_unique<grpc::ClientContext>();
    if (also) ctx_->AddMetadata("cloudillo-mux-also", "1");
    stream_ = stub_->CrdtSockets(ctx_.get());
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
  // The next event, as "<socket> <kind>[:data]" (a long message as its length); an
  // event for several sockets is one entry for each, in the order the gateway delivers.
  std::string Next() {
    while (pending_.empty()) {
      MuxFrame f;
      if (!stream_->Read(&f)) return "end";
      for (const auto& ev : f.events()) {
        std::string s;
        if (ev.has_accepted()) s += "accepted";
        if (ev.has_ready()) s += "ready";
        if (ev.has_binary())
          s += "binary:" + (ev.binary().size() > 100 ? std::to_string(ev.binary().size()) : ev.binary());
        if (ev.has_text()) s += "text:" + ev.text();
        if (ev.has_close()) s += "close:" + std::to_string(ev.close().code());
        if (ev.has_binary() || ev.has_text()) ++data_events_;
        if (ev.also_size() > 0) ++shared_events_;
        for (uint64_t also : ev.also()) pending_.push_back(std::to_string(also) + " " + s);
        pending_.push_back(std::to_string(ev.socket()) + " " + s);
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
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<MuxFrame, MuxFrame>> stream_;
  std::vector<std::string> pending_;
  int data_events_ = 0, shared_events_ = 0;
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

// A message queued for several sockets reaches each once, after its earlier events,
// whether it crossed as one event naming them (only for a gateway that asked: how
// many share an event depends on the writes' timing, mux_queue_test has the rule) or
// one event per socket.
TEST_F(SocketMuxTest, OneMessageForSeveralSocketsReachesEachOnce) {
  for (bool also : {true, false}) {
    SCOPED_TRACE(also ? "gateway asked" : "gateway did not ask");
    Connect(also);
    {
      std::lock_guard<std::mutex> lock(g_links_mu);
      g_links.clear();
    }
    for (uint64_t id = 1; id <= 4; ++id) {
      Open(id);
      EXPECT_EQ(Next(), std::to_string(id) + " accepted");
      EXPECT_EQ(Next(), std::to_string(id) + " binary:hello");
      EXPECT_EQ(Next(), std::to_string(id) + " ready");
    }
    data_events_ = shared_events_ = 0;
    Message(1, "all");
    EXPECT_EQ(Next(), "1 binary:614400");
    std::vector<std::string> rest;
    for (int i = 0; i < 5; ++i) rest.push_back(Next());
    std::sort(rest.begin(), rest.end());
    EXPECT_EQ(rest, (std::vector<std::string>{"1 binary:news", "1 ready", "2 binary:news", "3 binary:news",
                                              "4 binary:news"}));
    if (!also) {
      EXPECT_EQ(shared_events_, 0);
      EXPECT_EQ(data_events_, 5);
    }
  }
}

}  // namespace
}  // namespace cloudillo::collab
