// One HTTP/1.1 connection: reads request heads (with the RFC 9112 checks of
// request_head.h), reads or streams bodies, hands an Exchange to the handler and
// writes whatever answer the handler gives, from whichever thread it gives it.
//
// Every member of a session runs on the connection's thread; ExchangeImpl methods
// dispatch there (inline when already on it, which is the common case: the handler
// usually answers from the thread that parsed the request, so answering costs no
// queueing and no wake-up of another thread). A session owns at most one exchange at a time (no pipelined
// concurrency: a second pipelined request is read after the first is answered).
#include <array>
#include <deque>
#include <optional>

#include "cloudillo/core/log.h"
#include "request_head.h"
#include "session.h"

namespace cloudillo::http::internal {
namespace {

constexpr size_t kStreamChunk = 64 * 1024;
constexpr std::chrono::seconds kLinger{3};

template <class Stream>
auto& Lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

template <class Stream>
class HttpSession;

// The Exchange of one request. Its state lives on the session's strand.
template <class Stream>
class ExchangeImpl final : public Exchange, public std::enable_shared_from_this<ExchangeImpl<Stream>> {
 public:
  ExchangeImpl(std::shared_ptr<HttpSession<Stream>> session, Request request)
      : session_(std::move(session)), request_(std::move(request)) {}
  ~ExchangeImpl() override;

  const Request& request() const override { return request_; }
  void Respond(Response response) override;
  void ReadBody(std::function<void(absl::StatusOr<std::string>)> done) override;
  void StartResponse(Response head, std::optional<uint64_t> content_length) override;
  void WriteBody(std::string chunk, std::function<void(absl::Status)> done) override;
  void FinishResponse() override;
  void Abort() override;
  void AcceptWebSocket(WebSocketOptions options,
                       std::function<void(std::shared_ptr<WebSocket>)> accepted) override;
  void Post(std::function<void()> fn) override;
  void PostAfter(absl::Duration delay, std::function<void()> fn) override;

  // On the strand: run user code behind the exception barrier.
  void Guarded(const char* where, const std::function<void()>& fn);

  bool answered = false;  // an answer (or an upgrade) has been started; strand only

 private:
  std::shared_ptr<HttpSession<Stream>> session_;
  const Request request_;
};

template <class Stream>
class HttpSession final : public Connection, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(ServerContext* server, Stream&& stream, std::string ip, bool tls,
              std::shared_ptr<ConnectionSlot> slot)
      : server_(server), stream_(std::move(stream)), ip_(std::move(ip)), tls_(tls), slot_(std::move(slot)) {}

  ~HttpSession() override {
    if (registry_id_) server_->Unregister(registry_id_);
  }

  void Run() {
    registry_id_ = server_->Register(this->weak_from_this());
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Lowest(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Close();
                                self->ReadHead();
                              });
    } else {
      ReadHead();
    }
  }

  net::any_io_executor executor() { return stream_.get_executor(); }
  const ServerOptions& opts() const { return server_->options(); }

  void CloseIfIdle() override {
    net::post(executor(), [self = this->shared_from_this()] {
      if (self->state_ == State::kIdle) self->Close();
    });
  }
  void CloseNow() override {
    net::post(executor(), [self = this->shared_from_this()] { self->Close(); });
  }

  // --- called by ExchangeImpl, on the strand ------------------------------------------

  // A complete answer is framed here and sent as two buffers (head, body) in one
  // write: Beast's serializer walks its buffer views per field and per write step,
  // which was a tenth of the gateway's CPU per cached download. Framing as Beast's
  // prepare_payload and keep_alive did: Content-Length for every status that has a
  // body (a HEAD answer keeps a length the handler stated, else the body's), none and
  // no body for 1xx, 204 and 304, and the connection header of the chosen persistence.
  void WriteResponse(Response&& res) {
    // What the write sends from, alive until it is done: one allocation per answer.
    struct Wire {
      std::string head, body;
      std::shared_ptr<const std::string> shared;
    };
    auto wire = std::make_shared<Wire>();
    wire->shared = std::move(res.shared_body);
    wire->body = std::move(res.body);
    std::string_view body = wire->shared ? std::string_view(*wire->shared) : std::string_view(wire->body);
    const bool no_body = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
    bool keep_alive = KeepAlive();
    bool has_length = false;
    std::string* head = &wire->head;
    head->reserve(128 + 64 * res.headers.size());
    head->append(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    head->append(std::to_string(res.status));
    head->push_back(' ');
    beast::string_view reason = bhttp::obsolete_reason(bhttp::int_to_status(unsigned(res.status)));
    head->append(reason.data(), reason.size());
    head->append("\r\n");
    for (const auto& [k, v] : res.headers) {
      // A name or value that would end the line is a handler's bug: not sent.
      if (k.find_first_of("\r\n:") != std::string::npos || v.find_first_of("\r\n") != std::string::npos)
        continue;
      if (beast::iequals(k, "connection")) {
        if (v.find("close") != std::string::npos) keep_alive = false;  // the handler ends it
        continue;
      }
      if (beast::iequals(k, "content-length")) {
        if (!head_request_ || no_body) continue;  // the body's own length below
        has_length = true;
      }
      head->append(k).append(": ").append(v).append("\r\n");
    }
    if (!no_body && !has_length)
      head->append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    if (!keep_alive && version_ != 10) head->append("Connection: close\r\n");
    if (keep_alive && version_ == 10) head->append("Connection: keep-alive\r\n");
    head->append("\r\n");
    if (head_request_ || no_body) body = {};
    state_ = State::kWriting;
    Lowest(stream_).expires_after(absl::ToChronoSeconds(opts().idle_timeout));
    std::array<net::const_buffer, 2> buffers{net::buffer(*head), net::buffer(body.data(), body.size())};
    net::async_write(stream_, buffers,
                     [self = this->shared_from_this(), wire, keep_alive](beast::error_code ec, size_t) {
                       if (!ec && !keep_alive) return self->CloseAfterAnswer();
                       self->AnswerDone(!ec);
                     });
  }

  void ReadBodyChunk(std::function<void(absl::StatusOr<std::string>)> done) {
    if (!stream_parser_) {
      // A request that declared no body at all streams as an empty one (a 0-byte upload).
      if (!body_parser_) return done(std::string());
      return done(absl::FailedPreconditionError("this route does not stream its body"));
    }
    if (stream_parser_->is_done()) return done(std::string());
    chunk_.resize(kStreamChunk);
    stream_parser_->get().body().data = chunk_.data();
    stream_parser_->get().body().size = chunk_.size();
    Lowest(stream_).expires_after(absl::ToChronoSeconds(opts().idle_timeout));
    bhttp::async_read(
        stream_, buffer_, *stream_parser_,
        [self = this->shared_from_this(), done = std::move(done)](beast::error_code ec, size_t) {
          if (ec == bhttp::error::need_buffer) ec = {};
          if (ec) {
            self->body_broken_ = true;
            if (ec == bhttp::error::body_limit)
              return done(absl::ResourceExhaustedError("request body too large"));
            if (ec == beast::error::timeout || ec == net::error::eof || ec == bhttp::error::partial_message ||
                ec == net::error::connection_reset)
              return done(absl::UnavailableError("client went away while sending the body"));
            return done(absl::InvalidArgumentError("malformed request body: " + ec.message()));
          }
          size_t got = self->chunk_.size() - self->stream_parser_->get().body().size;
          self->chunk_.resize(got);
          if (got == 0 && !self->stream_parser_->is_done()) return self->ReadBodyChunk(done);
          done(std::move(self->chunk_));
        });
  }

  void StartStreamedResponse(Response&& head, std::optional<uint64_t> length) {
    out_ = std::make_unique<bhttp::response<bhttp::buffer_body>>();
    out_->version(version_);
    out_->result(static_cast<unsigned>(head.status));
    for (auto& [k, v] : head.headers) out_->insert(k, v);
    if (length)
      out_->content_length(*length);
    else
      out_->chunked(true);
    out_->keep_alive(KeepAlive());
    out_->body().data = nullptr;
    out_->body().more = true;
    serializer_ = std::make_unique<bhttp::response_serializer<bhttp::buffer_body>>(*out_);
    state_ = State::kWriting;
    writes_.push_back({PendingWrite::kHead, {}, nullptr});
    PumpWrites();
  }

  void WriteChunk(std::string&& chunk, std::function<void(absl::Status)> done) {
    if (!serializer_ || stream_failed_)
      return done(absl::UnavailableError("the answer is not being streamed"));
    writes_.push_back({PendingWrite::kChunk, std::move(chunk), std::move(done)});
    PumpWrites();
  }

  void FinishStreamedResponse() {
    if (!serializer_ || stream_failed_) return AnswerDone(false);
    writes_.push_back({PendingWrite::kFinish, {}, nullptr});
    PumpWrites();
  }

  void AbortAnswer() { AnswerDone(false); }

  void Upgrade(const WebSocketOptions& options, std::function<void(std::shared_ptr<WebSocket>)> accepted) {
    EndRequest();
    state_ = State::kUpgraded;
    Lowest(stream_).expires_never();
    AcceptWebSocketOn(std::move(stream_), head_parser_->release(), server_, std::move(slot_), options,
                      std::move(accepted));
  }

  void Failed() { AnswerDone(false); }

  const ServerOptions& options() const { return opts(); }

 private:
  enum class State { kIdle, kReadingBody, kHandling, kWriting, kLingering, kUpgraded, kClosed };

  bool KeepAlive() const {
    return keep_alive_ && !server_->stopping() && !body_broken_ &&
           (!stream_parser_ || stream_parser_->is_done());
  }

  // A streamed answer is a sequence of writes on one serializer; Beast allows one at
  // a time, so they queue here in order.
  struct PendingWrite {
    enum Kind { kHead, kChunk, kFinish } kind;
    std::string data;
    std::function<void(absl::Status)> done;
  };

  void PumpWrites() {
    if (writing_ || writes_.empty()) return;
    if (stream_failed_) {
      auto pending = std::move(writes_);
      writes_.clear();
      for (auto& w : pending) {
        if (w.done) w.done(absl::UnavailableError("client went away"));
      }
      if (serializer_) {
        serializer_.reset();
        out_.reset();
        AnswerDone(false);
      }
      return;
    }
    writing_ = true;
    PendingWrite& w = writes_.front();
    Lowest(stream_).expires_after(absl::ToChronoSeconds(opts().idle_timeout));
    auto self = this->shared_from_this();
    if (w.kind == PendingWrite::kHead) {
      bhttp::async_write_header(stream_, *serializer_,
                                [self](beast::error_code ec, size_t) { self->WriteDone(ec); });
      return;
    }
    if (w.kind == PendingWrite::kChunk) {
      out_->body().data = w.data.data();
      out_->body().size = w.data.size();
      out_->body().more = true;
    } else {
      out_->body().data = nullptr;
      out_->body().size = 0;
      out_->body().more = false;
    }
    bhttp::async_write(stream_, *serializer_, [self](beast::error_code ec, size_t) { self->WriteDone(ec); });
  }

  void WriteDone(beast::error_code ec) {
    writing_ = false;
    if (ec == bhttp::error::need_buffer) ec = {};
    PendingWrite w = std::move(writes_.front());
    writes_.pop_front();
    if (ec) stream_failed_ = true;
    if (w.done) w.done(ec ? absl::UnavailableError("client went away: " + ec.message()) : absl::OkStatus());
    if (w.kind == PendingWrite::kFinish && !ec) {
      bool keep = out_->keep_alive();
      serializer_.reset();
      out_.reset();
      return keep ? AnswerDone(true) : CloseAfterAnswer();
    }
    PumpWrites();
  }

  void ReadHead() {
    state_ = State::kIdle;
    head_parser_.emplace();
    head_parser_->header_limit(static_cast<uint32_t>(opts().header_limit));
    // Not unlimited: the parser reserves a declared length when the head ends.
    head_parser_->body_limit(opts().max_body_limit);
    head_parser_->eager(false);
    body_parser_.reset();
    stream_parser_.reset();
    folds_ = FoldScanner();
    body_broken_ = false;
    stream_failed_ = false;
    peer_may_send_ = false;
    ContinueHead();
  }

  void ContinueHead() {
    if (buffer_.size() > 0) {
      auto data = buffer_.data();
      std::string_view pending(static_cast<const char*>(data.data()), data.size());
      if (folds_.FoundFold(pending)) return Fail(400, "obsolete line folding");
      beast::error_code ec;
      size_t used = head_parser_->put(data, ec);
      buffer_.consume(used);
      if (ec && ec != bhttp::error::need_more) {
        if (ec == bhttp::error::header_limit) return Fail(431, "request header fields too large");
        if (ec == bhttp::error::body_limit) return Fail(413, "request body too large");
        return Fail(400, "malformed HTTP request: " + ec.message());
      }
      if (head_parser_->is_header_done()) return OnHead();
      if (buffer_.size() >= opts().header_limit) return Fail(431, "request header fields too large");
    }
    if (server_->stopping() && buffer_.size() == 0) return Close();
    Lowest(stream_).expires_after(absl::ToChronoSeconds(opts().idle_timeout));
    stream_.async_read_some(buffer_.prepare(8192),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();  // eof, timeout, reset: nothing to answer
                              self->buffer_.commit(n);
                              self->ContinueHead();
                            });
  }

  void OnHead() {
    if (auto problem = CheckFraming(*head_parser_, opts().max_header_fields)) {
      return Fail(problem->status, problem->reason);
    }
    version_ = head_parser_->get().version();
    keep_alive_ = head_parser_->get().keep_alive();
    head_request_ = head_parser_->get().method() == bhttp::verb::head;
    Request head = HeadOf(*head_parser_, ip_, tls_);
    if (head.websocket_upgrade) return Dispatch(std::move(head));
    auto declared = head_parser_->content_length();
    bool has_body = head_parser_->chunked() || (declared && *declared > 0);
    if (!has_body) return Dispatch(std::move(head));
    BodyPlan plan;
    bool planned = false;
    CallGuarded(
        "body_plan",
        [&] {
          plan = opts().body_plan(head);
          planned = true;
        },
        [] {});
    if (!planned) return Fail(500, "internal error");
    plan.limit = std::min(plan.limit, opts().max_body_limit);
    if (declared && *declared > plan.limit) {
      return Fail(413, "request body larger than " + std::to_string(plan.limit) + " bytes");
    }
    if (plan.stream) {
      stream_parser_.emplace(std::move(*head_parser_));
      stream_parser_->body_limit(plan.limit);
      return SendContinueThen([self = this->shared_from_this(), head = std::move(head)]() mutable {
        self->Dispatch(std::move(head));
      });
    }
    body_parser_.emplace(std::move(*head_parser_));
    body_parser_->body_limit(plan.limit);
    SendContinueThen([self = this->shared_from_this(), head = std::move(head)]() mutable {
      self->ReadWholeBody(std::move(head));
    });
  }

  // A client that sent `Expect: 100-continue` waits for this before sending the body.
  void SendContinueThen(std::function<void()> next) {
    const bhttp::fields& fields = stream_parser_ ? static_cast<const bhttp::fields&>(stream_parser_->get())
                                                 : static_cast<const bhttp::fields&>(body_parser_->get());
    auto expect = fields[bhttp::field::expect];
    if (version_ != 11 || !beast::iequals(expect, "100-continue")) return next();
    auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
    bhttp::async_write(stream_, *cont,
                       [self = this->shared_from_this(), cont, next](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         next();
                       });
  }

  void ReadWholeBody(Request head) {
    state_ = State::kReadingBody;
    Lowest(stream_).expires_after(absl::ToChronoSeconds(opts().idle_timeout));
    bhttp::async_read(
        stream_, buffer_, *body_parser_,
        [self = this->shared_from_this(), head = std::move(head)](beast::error_code ec, size_t) mutable {
          if (ec == bhttp::error::body_limit) return self->Fail(413, "request body too large");
          if (ec == beast::error::timeout || ec == net::error::eof || ec == bhttp::error::end_of_stream ||
              ec == bhttp::error::partial_message || ec == net::error::connection_reset) {
            return self->Close();
          }
          if (ec) return self->Fail(400, "malformed HTTP request body: " + ec.message());
          head.body = std::move(self->body_parser_->get().body());
          self->Dispatch(std::move(head));
        });
  }

  void Dispatch(Request head) {
    state_ = State::kHandling;
    Lowest(stream_).expires_never();
    request_open_ = true;
    server_->RequestStarted();
    auto exchange = std::make_shared<ExchangeImpl<Stream>>(this->shared_from_this(), std::move(head));
    exchange->Guarded("handler", [&] { opts().handler(exchange); });
  }

  // Called once per exchange when its answer is complete (or abandoned).
  void AnswerDone(bool keep_alive) {
    EndRequest();
    if (keep_alive && state_ != State::kClosed) return ReadHead();
    Close();
  }

  void EndRequest() {
    if (!request_open_) return;
    request_open_ = false;
    server_->RequestFinished();
  }

  void Fail(int status, const std::string& reason) {
    Response res;
    if (opts().on_bad_request) {
      res = opts().on_bad_request(status, reason);
    } else {
      res.status = status;
      res.body = reason;
    }
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
    msg->version(11);
    msg->result(static_cast<unsigned>(res.status));
    for (auto& [k, v] : res.headers) msg->insert(k, v);
    msg->body() = std::move(res.body);
    msg->prepare_payload();
    msg->keep_alive(false);
    state_ = State::kWriting;
    Lowest(stream_).expires_after(std::chrono::seconds(5));
    peer_may_send_ = true;
    bhttp::async_write(stream_, *msg, [self = this->shared_from_this(), msg](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->CloseAfterAnswer();
    });
  }

  // Closing a socket with unread input makes the kernel send a reset, and a reset can
  // destroy an answer (a 413, a 507 mid-upload) in the client's receive buffer before
  // the client has read it: a browser would show "connection reset" instead of the
  // error. So when the client may still be sending, stop writing and discard what
  // arrives for a few seconds first (RFC 9112 §9.6, nginx's lingering close). The
  // connection keeps its slot meanwhile, so lingering is bounded by the connection limit.
  void CloseAfterAnswer() {
    EndRequest();
    bool unread = peer_may_send_ || body_broken_ || (stream_parser_ && !stream_parser_->is_done()) ||
                  (body_parser_ && !body_parser_->is_done());
    if (!unread || state_ == State::kClosed || state_ == State::kUpgraded) return Close();
    state_ = State::kLingering;
    if constexpr (!std::is_same_v<Stream, TlsStream>) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    Lowest(stream_).expires_after(kLinger);
    Discard();
  }

  void Discard() {
    if (state_ != State::kLingering) return;
    buffer_.consume(buffer_.size());
    // prepare() without commit(): the same 16 KiB are reused for every read.
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec)
                                return self->Close();  // the client's end of stream, a reset or the deadline
                              self->Discard();
                            });
  }

  void Close() {
    if (state_ == State::kClosed || state_ == State::kUpgraded) return;
    state_ = State::kClosed;
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Lowest(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ec2;
        Lowest(self->stream_).socket().close(ec2);
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.socket().close(ec);
    }
  }

  ServerContext* server_;
  Stream stream_;
  std::string ip_;
  bool tls_;
  std::shared_ptr<ConnectionSlot> slot_;
  uint64_t registry_id_ = 0;
  State state_ = State::kIdle;
  beast::flat_buffer buffer_;
  FoldScanner folds_;
  std::optional<HeadParser> head_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> stream_parser_;
  std::string chunk_;
  std::unique_ptr<bhttp::response<bhttp::buffer_body>> out_;
  std::unique_ptr<bhttp::response_serializer<bhttp::buffer_body>> serializer_;
  std::deque<PendingWrite> writes_;
  bool writing_ = false;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool body_broken_ = false;
  bool stream_failed_ = false;
  bool peer_may_send_ = false;  // answered before reading all of a request (Fail)
  bool request_open_ = false;   // between Dispatch and the end of its answer
};

template <class Stream>
ExchangeImpl<Stream>::~ExchangeImpl() {
  // Dropped without an answer: nothing can be sent any more, so end the connection.
  if (!answered) {
    net::post(session_->executor(), [s = session_] { s->AbortAnswer(); });
  }
}

template <class Stream>
void ExchangeImpl<Stream>::Guarded(const char* where, const std::function<void()>& fn) {
  CallGuarded(where, fn, [this] {
    if (answered) return session_->Failed();
    answered = true;
    Response res;
    if (session_->options().on_internal_error) {
      res = session_->options().on_internal_error();
    } else {
      res.status = 500;
      res.body = "internal error";
    }
    session_->WriteResponse(std::move(res));
  });
}

template <class Stream>
void ExchangeImpl<Stream>::Respond(Response response) {
  net::dispatch(session_->executor(), [self = this->shared_from_this(), r = std::move(response)]() mutable {
    if (self->answered) return;
    self->answered = true;
    self->session_->WriteResponse(std::move(r));
  });
}

template <class Stream>
void ExchangeImpl<Stream>::ReadBody(std::function<void(absl::StatusOr<std::string>)> done) {
  net::dispatch(session_->executor(), [self = this->shared_from_this(), done = std::move(done)]() mutable {
    self->session_->ReadBodyChunk([self, done = std::move(done)](absl::StatusOr<std::string> chunk) {
      self->Guarded("read_body", [&] { done(std::move(chunk)); });
    });
  });
}

template <class Stream>
void ExchangeImpl<Stream>::StartResponse(Response head, std::optional<uint64_t> content_length) {
  net::dispatch(session_->executor(),
                [self = this->shared_from_this(), h = std::move(head), content_length]() mutable {
                  if (self->answered) return;
                  self->answered = true;
                  self->session_->StartStreamedResponse(std::move(h), content_length);
                });
}

template <class Stream>
void ExchangeImpl<Stream>::WriteBody(std::string chunk, std::function<void(absl::Status)> done) {
  net::dispatch(session_->executor(),
                [self = this->shared_from_this(), c = std::move(chunk), done = std::move(done)]() mutable {
                  self->session_->WriteChunk(std::move(c), [self, done = std::move(done)](absl::Status st) {
                    self->Guarded("write_body", [&] { done(st); });
                  });
                });
}

template <class Stream>
void ExchangeImpl<Stream>::FinishResponse() {
  net::dispatch(session_->executor(),
                [self = this->shared_from_this()] { self->session_->FinishStreamedResponse(); });
}

template <class Stream>
void ExchangeImpl<Stream>::Abort() {
  net::dispatch(session_->executor(), [self = this->shared_from_this()] {
    self->answered = true;
    self->session_->AbortAnswer();
  });
}

template <class Stream>
void ExchangeImpl<Stream>::AcceptWebSocket(WebSocketOptions options,
                                           std::function<void(std::shared_ptr<WebSocket>)> accepted) {
  net::dispatch(session_->executor(),
                [self = this->shared_from_this(), options, accepted = std::move(accepted)]() mutable {
                  if (self->answered || !self->request_.websocket_upgrade) return;
                  self->answered = true;
                  self->session_->Upgrade(options, std::move(accepted));
                });
}

template <class Stream>
void ExchangeImpl<Stream>::Post(std::function<void()> fn) {
  net::post(session_->executor(),
            [self = this->shared_from_this(), fn = std::move(fn)] { self->Guarded("post", fn); });
}

template <class Stream>
void ExchangeImpl<Stream>::PostAfter(absl::Duration delay, std::function<void()> fn) {
  auto timer = std::make_shared<net::steady_timer>(session_->executor(), absl::ToChronoNanoseconds(delay));
  timer->async_wait([self = this->shared_from_this(), timer, fn = std::move(fn)](beast::error_code) {
    self->Guarded("timer", fn);
  });
}

}  // namespace

void ServePlain(ServerContext* server, tcp::socket socket, std::string ip,
                std::shared_ptr<ConnectionSlot> slot) {
  std::make_shared<HttpSession<PlainStream>>(server, PlainStream(std::move(socket)), std::move(ip), false,
                                             std::move(slot))
      ->Run();
}

void ServeTls(ServerContext* server, tcp::socket socket, ssl::context& ctx, std::string ip,
              std::shared_ptr<ConnectionSlot> slot) {
  std::make_shared<HttpSession<TlsStream>>(server, TlsStream(PlainStream(std::move(socket)), ctx),
                                           std::move(ip), true, std::move(slot))
      ->Run();
}

}  // namespace cloudillo::http::internal
