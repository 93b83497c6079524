#include "socket_mux.h"

#include <atomic>
#include <deque>
#include <unordered_map>

#include "api_flow.h"
#include "envelope.h"
#include "grpc_bytes.h"

namespace cloudillo::gateway {

using cloudillo::v1::MuxEvent;
using cloudillo::v1::MuxFrame;

namespace {
constexpr uint16_t kCloseTooSlow = 1013;
// What waits for one slow client: beyond, it is closed (one message always fits).
constexpr size_t kQueueMessages = 1024;
constexpr size_t kQueueBytes = 16u << 20;
}  // namespace

// One client's socket on a mux. Its state is its own (mu_): the mux's reads, the
// WebSocket's callbacks and the mux's end reach it from different threads.
class MuxedSocket final : public std::enable_shared_from_this<MuxedSocket> {
 public:
  MuxedSocket(uint64_t id, StreamTarget t, std::weak_ptr<SocketMux> mux)
      : id_(id), t_(std::move(t)), mux_(std::move(mux)) {}

  uint64_t id() const { return id_; }
  // Its WebSocket's I/O thread (http::WebSocket::loop), nullptr before the upgrade.
  const void* loop() const { return loop_.load(std::memory_order_acquire); }
  // Runs `fn` on that thread; only once loop() is set.
  void OnLoop(std::function<void()> fn) {
    std::shared_ptr<http::WebSocket> ws;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ws = ws_;
    }
    ws->Post(std::move(fn));
  }

  void Accepted();
  void Deliver(std::string data, bool binary);
  void Ready();
  void ClosedByService(int code, std::string reason);
  // The stream ended: an upgrade not yet accepted is answered with an error.
  void StreamEnded(const grpc::Status& status);

 private:
  struct Out {
    std::string data;
    bool binary = false;
    bool close = false;
    int code = 0;
  };
  void Upgraded(std::shared_ptr<http::WebSocket> ws);
  // mu_ held; true when the socket was just closed with no read under way to notice:
  // the caller then calls Ended() once unlocked.
  [[nodiscard]] bool PumpWrites();
  void MaybeRead();  // mu_ held
  void Ended();      // once: counts and logs the socket

  const uint64_t id_;
  StreamTarget t_;
  const std::weak_ptr<SocketMux> mux_;
  std::mutex mu_;
  std::shared_ptr<http::WebSocket> ws_;  // set once
  std::atomic<const void*> loop_{nullptr};
  std::deque<Out> queue_;
  size_t queued_bytes_ = 0;
  bool accepted_ = false, credit_ = false, reading_ = false, writing_ = false, closed_ = false,
       ended_ = false;
};

class SocketMux final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                        public std::enable_shared_from_this<SocketMux> {
 public:
  SocketMux(grpc::GenericStub* stub, std::string method, std::shared_ptr<MuxCount> count)
      : stub_(stub), method_(std::move(method)), count_(std::move(count)) {}

  void Begin() {
    self_ = shared_from_this();
    {
      std::lock_guard<std::mutex> lock(count_->mu);
      ++count_->live;
    }
    // A message for several sockets may come as one event naming them (MuxEvent.also).
    ctx_.AddMetadata("cloudillo-mux-also", "1");
    stub_->PrepareBidiStreamingCall(&ctx_, method_, grpc::StubOptions(), this);
    AddHold();  // writes start from the clients' side
    StartRead(&in_);
    StartCall();
  }

  void Cancel() { ctx_.TryCancel(); }

  // False once the stream has ended: the caller starts another.
  bool Open(StreamTarget& t, cloudillo::v1::ApiRequest& request) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return false;
    uint64_t id = next_id_++;
    sockets_.emplace(id, std::make_shared<MuxedSocket>(id, std::move(t), weak_from_this()));
    MuxEvent ev;
    ev.set_socket(id);
    *ev.mutable_open() = std::move(request);
    Queue(std::move(ev));
    return true;
  }

  void Send(MuxEvent ev) {
    std::lock_guard<std::mutex> lock(mu_);
    Queue(std::move(ev));
  }

  // The client's side ended the socket: the service is told with `code`.
  void Gone(uint64_t id, int code, std::string reason = "") {
    std::lock_guard<std::mutex> lock(mu_);
    if (!sockets_.erase(id)) return;
    MuxEvent ev;
    ev.set_socket(id);
    ev.mutable_close()->set_code(code);
    ev.mutable_close()->set_reason(std::move(reason));
    Queue(std::move(ev));
  }

 private:
  void Queue(MuxEvent ev) {  // mu_ held
    if (ended_) return;
    pending_.push_back(std::move(ev));
    Pump();
  }

  // One write carries everything queued (each socket has one client message at most
  // in it: the `ready` rule), so it is bounded by the number of sockets.
  void Pump() {  // mu_ held
    if (writing_ || ended_ || pending_.empty()) return;
    MuxFrame frame;
    frame.mutable_events()->Reserve(int(pending_.size()));
    for (auto& ev : pending_) *frame.add_events() = std::move(ev);
    pending_.clear();
    out_ = ToBytes(frame);
    writing_ = true;
    StartWrite(&out_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (ok) Pump();
  }

  // What a frame asks of the sockets runs on their I/O threads, one hop per thread and
  // frame rather than per socket: a document's update reaches ten sockets on two
  // threads. A socket's own events keep their order (its thread never changes; one not
  // yet upgraded takes its events here, and they wait in its queue).
  void OnReadDone(bool ok) override {
    MuxFrame frame;
    if (!ok || !FromBytes(in_, &frame)) return EndStream();
    std::vector<std::pair<std::shared_ptr<MuxedSocket>, std::function<void()>>> hops;
    auto on_loop = [&hops](std::shared_ptr<MuxedSocket> s, std::function<void()> fn) {
      if (!s->loop()) return fn();
      hops.emplace_back(std::move(s), std::move(fn));
    };
    for (MuxEvent& ev : *frame.mutable_events()) {
      std::shared_ptr<MuxedSocket> s;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = sockets_.find(ev.socket());
        if (it == sockets_.end()) continue;  // the client's side ended it
        s = it->second;
        if (ev.has_close()) sockets_.erase(it);
      }
      if (ev.has_accepted()) {
        s->Accepted();
      } else if (ev.has_binary() || ev.has_text()) {
        const bool binary = ev.has_binary();
        std::string& data = binary ? *ev.mutable_binary() : *ev.mutable_text();
        for (uint64_t also : ev.also())
          if (auto other = Find(also))
            on_loop(other, [other, data, binary]() mutable { other->Deliver(std::move(data), binary); });
        on_loop(s, [s, data = std::move(data), binary]() mutable { s->Deliver(std::move(data), binary); });
      } else if (ev.has_ready()) {
        on_loop(s, [s] { s->Ready(); });
      } else if (ev.has_close()) {
        on_loop(s, [s, code = ev.close().code(), reason = ev.close().reason()]() mutable {
          s->ClosedByService(code, std::move(reason));
        });
      }
    }
    // One Post per thread, its sockets' work in frame order; before the next read, so
    // that the next frame's work queues behind this one's.
    while (!hops.empty()) {
      const void* loop = hops.front().first->loop();
      auto via = hops.front().first;
      std::vector<std::function<void()>> here;
      size_t kept = 0;
      for (auto& [sock, fn] : hops) {
        if (sock->loop() == loop) {
          here.push_back(std::move(fn));
        } else {
          hops[kept++] = {std::move(sock), std::move(fn)};
        }
      }
      hops.resize(kept);
      via->OnLoop([here = std::move(here)] {
        for (const auto& fn : here) fn();
      });
    }
    StartRead(&in_);
  }

  std::shared_ptr<MuxedSocket> Find(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sockets_.find(id);
    return it == sockets_.end() ? nullptr : it->second;
  }

  // No more reads: nothing new is opened here, and gRPC may end the call.
  void EndStream() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_) return;
      ended_ = true;
      pending_.clear();
    }
    ctx_.TryCancel();  // a service that stopped answering must not keep the call
    RemoveHold();
  }

  void OnDone(const grpc::Status& status) override {
    std::unordered_map<uint64_t, std::shared_ptr<MuxedSocket>> sockets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      sockets.swap(sockets_);
    }
    for (auto& [id, s] : sockets) s->StreamEnded(status);
    sockets.clear();
    auto count = count_;
    auto keep = std::move(self_);  // may be the last reference
    keep.reset();
    std::lock_guard<std::mutex> lock(count->mu);
    --count->live;
    count->cv.notify_all();
  }

  grpc::GenericStub* stub_;
  const std::string method_;
  const std::shared_ptr<MuxCount> count_;
  grpc::ClientContext ctx_;
  std::shared_ptr<SocketMux> self_;
  grpc::ByteBuffer in_, out_;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<MuxedSocket>> sockets_;
  std::vector<MuxEvent> pending_;
  uint64_t next_id_ = 1;
  bool writing_ = false, ended_ = false;
};

void MuxedSocket::Accepted() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (accepted_ || closed_) return;
    accepted_ = true;
  }
  auto self = shared_from_this();
  t_.ex->AcceptWebSocket(t_.socket,
                         [self](std::shared_ptr<http::WebSocket> ws) { self->Upgraded(std::move(ws)); });
}

void MuxedSocket::Upgraded(std::shared_ptr<http::WebSocket> ws) {
  if (!ws) {  // the client went away during the handshake
    if (auto mux = mux_.lock()) mux->Gone(id_, 1006);
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      queue_.clear();
    }
    return Ended();
  }
  bool end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ws_ = std::move(ws);
    loop_.store(ws_->loop(), std::memory_order_release);
    // Upgraded: the HTTP exchange (and its session's buffers) is not needed any more.
    t_.ex.reset();
    t_.answer = nullptr;
    end = PumpWrites();
    MaybeRead();
  }
  if (end) Ended();
}

void MuxedSocket::Deliver(std::string data, bool binary) {
  bool too_slow = false, end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    if (!queue_.empty() && (queue_.size() >= kQueueMessages || queued_bytes_ + data.size() > kQueueBytes)) {
      too_slow = true;
      queue_.clear();
      queued_bytes_ = 0;
      queue_.push_back({"", false, true, kCloseTooSlow});
    } else {
      queued_bytes_ += data.size();
      queue_.push_back({std::move(data), binary});
    }
    end = PumpWrites();
  }
  if (too_slow)
    if (auto mux = mux_.lock()) mux->Gone(id_, kCloseTooSlow, "client too slow");
  if (end) Ended();
}

void MuxedSocket::Ready() {
  std::lock_guard<std::mutex> lock(mu_);
  credit_ = true;
  MaybeRead();
}

void MuxedSocket::ClosedByService(int code, std::string reason) {
  bool end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    queue_.push_back({std::move(reason), false, true, code ? code : 1000});
    end = PumpWrites();
  }
  if (end) Ended();
}

void MuxedSocket::StreamEnded(const grpc::Status& status) {
  bool answer = false, end = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    if (!accepted_) {
      closed_ = true;
      answer = true;
    } else {
      queue_.push_back({"backend failed", false, true, 1011});
      end = PumpWrites();
    }
  }
  if (end) Ended();
  if (answer)
    t_.answer(status.ok() ? ErrorResponse(503, "E-CORE-UNAVAILABLE", "Service unavailable")
                          : FromGrpcError(status));
}

bool MuxedSocket::PumpWrites() {
  if (!ws_ || writing_ || closed_ || queue_.empty()) return false;
  Out next = std::move(queue_.front());
  queue_.pop_front();
  if (next.close) {
    closed_ = true;
    queue_.clear();
    ws_->Close(uint16_t(next.code), next.data);
    return !reading_;  // a read under way ends with the close and counts the socket
  }
  queued_bytes_ -= next.data.size();
  writing_ = true;
  auto self = shared_from_this();
  ws_->Write(http::WsMessage{std::move(next.data), next.binary}, [self](absl::Status st) {
    bool end = false;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->writing_ = false;
      if (st.ok()) end = self->PumpWrites();  // else the next read fails and says goodbye
    }
    if (end) self->Ended();
  });
  return false;
}

void MuxedSocket::MaybeRead() {
  if (!ws_ || !credit_ || reading_ || closed_) return;
  credit_ = false;
  reading_ = true;
  auto self = shared_from_this();
  ws_->Read([self](absl::StatusOr<http::WsMessage> m) {
    auto mux = self->mux_.lock();
    bool closed;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->reading_ = false;
      closed = self->closed_;
      if (!m.ok()) self->closed_ = true;
    }
    if (!m.ok()) {
      if (mux && !closed) mux->Gone(self->id_, self->ws_->peer_close_code());
      return self->Ended();
    }
    if (closed) return self->Ended();
    if (!mux) return;
    MuxEvent ev;
    ev.set_socket(self->id_);
    if (m->binary) {
      ev.set_binary(std::move(m->data));
    } else {
      ev.set_text(std::move(m->data));
    }
    mux->Send(std::move(ev));
  });
}

void MuxedSocket::Ended() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
  }
  t_.done(101);
}

SocketMuxes::~SocketMuxes() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, mux] : live_) mux->Cancel();
    live_.clear();
  }
  // Their sockets' ends are counted by the gateway this belongs to.
  std::unique_lock<std::mutex> lock(count_->mu);
  count_->cv.wait_for(lock, std::chrono::seconds(5), [this] { return count_->live == 0; });
}

void SocketMuxes::Start(StreamTarget target, cloudillo::v1::ApiRequest request) {
  const int slot = int(std::hash<std::string>()(target.ex->request().path) % size_t(streams_));
  std::lock_guard<std::mutex> lock(mu_);
  auto& mux = live_[Key{target.stub, target.method, slot}];
  if (mux && mux->Open(target, request)) return;
  mux = std::make_shared<SocketMux>(target.stub, target.method, count_);
  mux->Begin();
  mux->Open(target, request);
}

}  // namespace cloudillo::gateway
