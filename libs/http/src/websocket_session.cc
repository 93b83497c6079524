// A WebSocket taken over from an HTTP session after the handler accepted the upgrade.
// Pull-based (one Read and one Write outstanding at most): whoever bridges it to a
// backend stream asks for the next message only when it can take it, so neither side
// buffers without bound. Everything runs on the connection's I/O thread: a call made
// there starts at once (net::dispatch), one from elsewhere is posted to it. A call's
// callback is never run inside it (the caller may hold its own lock): errors found at
// once are posted too.
#include "cloudillo/core/log.h"
#include "session.h"

namespace cloudillo::http::internal {
namespace {

template <class Stream>
class WsSession final : public WebSocket,
                        public Connection,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, ServerContext* server, std::shared_ptr<ConnectionSlot> slot,
            const WebSocketOptions& options)
      : ws_(std::move(stream)), server_(server), slot_(std::move(slot)) {
    message_limit_ = server_->options().websocket_message_limit;
    if (options.max_message != 0) message_limit_ = std::min(message_limit_, options.max_message);
    frame_limit_ = std::min(message_limit_, server_->options().websocket_frame_limit);
    absl::Duration ping = options.ping_interval > absl::ZeroDuration()
                              ? options.ping_interval
                              : server_->options().websocket_ping_interval;
    // Handshake 30 s. Beast pings when half the idle timeout passed without a frame from
    // the peer and gives up after the whole: so a ping every interval keeps a quiet but
    // live peer connected, and a dead one is dropped after two.
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = absl::ToChronoMilliseconds(2 * ping);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    loop_ = &net::query(ws_.get_executor(), net::execution::context);
  }

  ~WsSession() override {
    if (registry_id_) server_->Unregister(registry_id_);
  }

  void Accept(bhttp::request<bhttp::empty_body> req,
              std::function<void(std::shared_ptr<WebSocket>)> accepted) {
    auto self = this->shared_from_this();
    ws_.async_accept(req, [self, accepted = std::move(accepted)](beast::error_code ec) {
      if (ec) return self->Guarded("websocket_accepted", [&] { accepted(nullptr); });
      self->registry_id_ = self->server_->Register(self->weak_from_this());
      self->Guarded("websocket_accepted", [&] { accepted(self); });
    });
  }

  void Read(std::function<void(absl::StatusOr<WsMessage>)> done) override {
    net::dispatch(ws_.get_executor(), [self = this->shared_from_this(), done = std::move(done)]() mutable {
      if (self->reading_)
        return self->Fail("ws_read", std::move(done), absl::FailedPreconditionError("read pending"));
      if (self->broken_)
        return self->Fail("ws_read", std::move(done), absl::UnavailableError("socket closed"));
      self->reading_ = true;
      self->ReadSome(std::move(done));
    });
  }

  void Write(WsMessage message, std::function<void(absl::Status)> done) override {
    net::dispatch(ws_.get_executor(), [self = this->shared_from_this(), m = std::move(message),
                                       done = std::move(done)]() mutable {
      if (self->writing_)
        return self->Fail("ws_write", std::move(done), absl::FailedPreconditionError("write pending"));
      if (self->broken_ || self->closing_)
        return self->Fail("ws_write", std::move(done), absl::UnavailableError("socket closed"));
      self->writing_ = true;
      self->out_ = std::move(m.data);
      self->ws_.binary(m.binary);
      self->ws_.async_write(
          net::buffer(self->out_), [self, done = std::move(done)](beast::error_code ec, size_t) {
            self->writing_ = false;
            if (ec) self->broken_ = true;
            self->Guarded("ws_write", [&] {
              done(ec ? absl::UnavailableError("socket failed: " + ec.message()) : absl::OkStatus());
            });
            if (self->close_pending_) self->StartClose();
          });
    });
  }

  void Close(uint16_t code, std::string reason) override {
    net::dispatch(
        ws_.get_executor(), [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
          if (self->closing_ || self->broken_) return;
          self->closing_ = true;
          self->close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
          if (self->writing_) {
            self->close_pending_ = true;  // Beast allows one write-like operation at a time
            return;
          }
          self->StartClose();
        });
  }

  int peer_close_code() const override { return peer_close_code_; }

  void Post(std::function<void()> fn) override {
    net::post(ws_.get_executor(),
              [self = this->shared_from_this(), fn = std::move(fn)] { self->Guarded("ws_post", fn); });
  }
  const void* loop() const override { return loop_; }

  void CloseIfIdle() override { Close(1001, "server shutting down"); }
  void CloseNow() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

 private:
  // Beast limits messages, not frames. It checks a frame's declared length against
  // read_message_max() as the frame header arrives (bytes of the message so far plus the
  // new frame), and read_some() returns within one frame: so moving the limit to "so far
  // plus one frame" before every read_some() caps each frame, and the message limit stays
  // the ceiling. A frame too big fails like a message too big (close 1009).
  void ReadSome(std::function<void(absl::StatusOr<WsMessage>)> done) {
    ws_.read_message_max(std::min(message_limit_, in_.size() + frame_limit_));
    ws_.async_read_some(
        in_, kReadChunk,
        [self = this->shared_from_this(), done = std::move(done)](beast::error_code ec, size_t) mutable {
          if (!ec && !self->ws_.is_message_done()) return self->ReadSome(std::move(done));
          self->reading_ = false;
          if (ec == websocket::error::closed) {
            self->peer_close_code_ = self->ws_.reason().code;
            self->broken_ = true;
            return self->Guarded("ws_read", [&] { done(absl::CancelledError("peer closed the socket")); });
          }
          if (ec) {
            self->broken_ = true;
            return self->Guarded("ws_read",
                                 [&] { done(absl::UnavailableError("socket failed: " + ec.message())); });
          }
          WsMessage m{beast::buffers_to_string(self->in_.data()), self->ws_.got_binary()};
          self->in_.consume(self->in_.size());
          self->Guarded("ws_read", [&] { done(std::move(m)); });
        });
  }

  // An error found when the call started: reported after it returned.
  template <class Done, class Status>
  void Fail(const char* where, Done done, Status error) {
    net::post(ws_.get_executor(), [self = this->shared_from_this(), where, done = std::move(done),
                                   error = std::move(error)]() mutable {
      self->Guarded(where, [&] { done(std::move(error)); });
    });
  }

  void StartClose() {
    close_pending_ = false;
    ws_.async_close(close_reason_,
                    [self = this->shared_from_this()](beast::error_code) { self->broken_ = true; });
  }

  void Guarded(const char* where, const std::function<void()>& fn) {
    CallGuarded(where, fn, [this] {
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().close(ec);
    });
  }

  websocket::stream<Stream> ws_;
  const void* loop_ = nullptr;  // the io_context: one per I/O thread (server.cc)
  ServerContext* server_;
  std::shared_ptr<ConnectionSlot> slot_;
  uint64_t registry_id_ = 0;
  static constexpr size_t kReadChunk = 64 * 1024;
  beast::flat_buffer in_;
  size_t message_limit_ = 0, frame_limit_ = 0;
  std::string out_;
  websocket::close_reason close_reason_;
  int peer_close_code_ = 0;
  bool reading_ = false, writing_ = false, closing_ = false, close_pending_ = false, broken_ = false;
};

}  // namespace

template <class Stream>
std::shared_ptr<WebSocket> AcceptWebSocketOn(Stream&& stream, bhttp::request<bhttp::empty_body> req,
                                             ServerContext* server, std::shared_ptr<ConnectionSlot> slot,
                                             const WebSocketOptions& options,
                                             std::function<void(std::shared_ptr<WebSocket>)> accepted) {
  auto ws = std::make_shared<WsSession<Stream>>(std::move(stream), server, std::move(slot), options);
  ws->Accept(std::move(req), std::move(accepted));
  return ws;
}

template std::shared_ptr<WebSocket> AcceptWebSocketOn<PlainStream>(
    PlainStream&&, bhttp::request<bhttp::empty_body>, ServerContext*, std::shared_ptr<ConnectionSlot>,
    const WebSocketOptions&, std::function<void(std::shared_ptr<WebSocket>)>);
template std::shared_ptr<WebSocket> AcceptWebSocketOn<TlsStream>(
    TlsStream&&, bhttp::request<bhttp::empty_body>, ServerContext*, std::shared_ptr<ConnectionSlot>,
    const WebSocketOptions&, std::function<void(std::shared_ptr<WebSocket>)>);

}  // namespace cloudillo::http::internal
