#include "cloudillo/http/server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <deque>
#include <limits>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "cloudillo/core/log.h"

namespace cloudillo::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

class ServerImpl;

Request HeadOf(const bhttp::request_parser<bhttp::string_body>& parser, const std::string& ip, bool tls) {
  const auto& msg = parser.get();
  Request r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    absl::AsciiStrToLower(&name);
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r.client_ip = ip;
  r.tls = tls;
  r.websocket_upgrade = websocket::is_upgrade(msg);
  return r;
}

bhttp::response<bhttp::string_body> ToBeast(Response&& res, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(res.status));
  for (auto& [k, v] : res.headers) out.insert(k, v);
  out.body() = std::move(res.body);
  bool no_body = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
  if (!no_body) out.prepare_payload();
  out.keep_alive(keep_alive);
  return out;
}

struct InFlight {
  std::atomic<int64_t>& n;
  explicit InFlight(std::atomic<int64_t>& c) : n(c) { ++n; }
  ~InFlight() { --n; }
};

template <class Stream>
class WsSession final : public WebSocket, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, size_t limit) : ws_(std::move(stream)) { ws_.read_message_max(limit); }

  void Accept(bhttp::request<bhttp::string_body> req, std::function<void()> on_accepted) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.async_accept(req, [self = this->shared_from_this(), on_accepted](beast::error_code ec) {
      if (ec) return;
      on_accepted();
      self->Read();
    });
  }

  void Send(std::string message, bool binary) override {
    net::post(ws_.get_executor(),
              [self = this->shared_from_this(), m = std::move(message), binary]() mutable {
                self->queue_.emplace_back(std::move(m), binary);
                if (self->queue_.size() == 1) self->WriteNext();
              });
  }

  void Close(uint16_t code, std::string reason) override {
    net::post(ws_.get_executor(), [self = this->shared_from_this(), code, reason = std::move(reason)] {
      if (self->closing_) return;
      self->closing_ = true;
      self->ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                            [self](beast::error_code) {});
    });
  }

 private:
  void Read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        if (self->on_close) self->on_close();
        self->on_message = nullptr;
        self->on_close = nullptr;
        return;
      }
      std::string msg = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (self->on_message) self->on_message(msg, self->ws_.got_binary());
      self->Read();
    });
  }

  void WriteNext() {
    if (closing_) {
      queue_.clear();
      return;
    }
    ws_.binary(queue_.front().second);
    ws_.async_write(net::buffer(queue_.front().first),
                    [self = this->shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) {
                        self->queue_.clear();
                        return;
                      }
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) self->WriteNext();
                    });
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::pair<std::string, bool>> queue_;
  bool closing_ = false;
};

class ServerImpl final : public HttpServer {
 public:
  explicit ServerImpl(ServerOptions o)
      : opts_(std::move(o)), acceptor_(ioc_), ssl_ctx_(ssl::context::tls_server) {}

  absl::Status Init() {
    if (!opts_.tls_cert_file.empty()) {
      beast::error_code ec;
      ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      ssl_ctx_.use_certificate_chain_file(opts_.tls_cert_file, ec);
      if (!ec) ssl_ctx_.use_private_key_file(opts_.tls_key_file, ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError("TLS certificate/key unusable: " + ec.message());
      tls_ = true;
    }
    beast::error_code ec;
    auto addr = net::ip::make_address(opts_.address, ec);
    if (ec) return absl::InvalidArgumentError("bad listen address '" + opts_.address + "'");
    tcp::endpoint ep(addr, static_cast<unsigned short>(opts_.port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError("cannot listen on " + opts_.address + ":" + std::to_string(opts_.port) +
                                    ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < std::max(1, opts_.threads); ++i) threads_.emplace_back([this] { ioc_.run(); });
    return absl::OkStatus();
  }

  ~ServerImpl() override { Stop(absl::ZeroDuration()); }

  int port() const override { return port_; }
  int64_t in_flight() const override { return in_flight_; }

  void Stop(absl::Duration grace) override {
    if (stopped_.exchange(true)) return;
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    auto deadline = std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(grace);
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  const ServerOptions& opts() const { return opts_; }
  std::atomic<int64_t>& in_flight_counter() { return in_flight_; }
  bool stopping() const { return stopped_; }

 private:
  void Accept();

  ServerOptions opts_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  ssl::context ssl_ctx_;
  bool tls_ = false;
  int port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> stopped_{false};

  template <class S>
  friend class HttpSession;
};

template <class Stream>
class HttpSession final : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(ServerImpl* server, Stream&& stream, std::string ip, bool tls)
      : server_(server), stream_(std::move(stream)), ip_(std::move(ip)), tls_(tls) {}

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

 private:
  const ServerOptions& opts() const { return server_->opts(); }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(opts().header_limit));
    // Not boost::none (Boost 1.74 compares `len > none` as true), and not unlimited:
    // the parser reserves a declared length when the head ends, before OnHeader runs.
    parser_->body_limit(opts().max_body_limit);
    beast::get_lowest_layer(stream_).expires_after(absl::ToChronoSeconds(opts().idle_timeout));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return Shutdown();
    }
    if (ec == bhttp::error::header_limit) return Fail(431, "request header fields too large");
    if (ec == bhttp::error::body_limit) return Fail(413, "request body too large");
    if (ec) return Fail(400, "malformed HTTP request: " + ec.message());
    head_ = HeadOf(*parser_, ip_, tls_);
    if (head_.websocket_upgrade && opts().websocket_check) return Upgrade();
    size_t limit = opts().body_limit(head_);
    auto declared = parser_->content_length();
    if (declared && *declared > limit)
      return Fail(413, "request body larger than " + std::to_string(limit) + " bytes");
    parser_->body_limit(limit);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return Fail(413, "request body too large");
    if (ec == beast::error::timeout || ec == net::error::eof || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message) {
      return Shutdown();
    }
    if (ec) return Fail(400, "malformed HTTP request body: " + ec.message());
    head_.body = std::move(parser_->get().body());
    bool keep_alive = parser_->get().keep_alive() && !server_->stopping();
    unsigned version = parser_->get().version();
    Response res;
    {
      InFlight guard(server_->in_flight_counter());
      res = opts().handler(head_);
    }
    Write(ToBeast(std::move(res), version, keep_alive));
  }

  void Upgrade() {
    Response check = opts().websocket_check(head_);
    if (check.status != 101) {
      return Write(ToBeast(std::move(check), parser_->get().version(), false));
    }
    beast::get_lowest_layer(stream_).expires_never();
    auto ws = std::make_shared<WsSession<Stream>>(std::move(stream_), opts().websocket_message_limit);
    Request head = std::move(head_);
    const ServerOptions* o = &opts();
    ws->Accept(parser_->release(), [ws, head = std::move(head), o] {
      if (o->websocket_accepted) o->websocket_accepted(head, ws);
    });
  }

  void Fail(int status, const std::string& reason) {
    Response res =
        opts().on_bad_request ? opts().on_bad_request(status, reason) : Response{status, {}, reason};
    Write(ToBeast(std::move(res), 11, false));
  }

  void Write(bhttp::response<bhttp::string_body>&& res) {
    auto sp = std::make_shared<bhttp::response<bhttp::string_body>>(std::move(res));
    bool close = !sp->keep_alive();
    bhttp::async_write(stream_, *sp,
                       [self = this->shared_from_this(), sp, close](beast::error_code ec, size_t) {
                         if (ec || close) return self->Shutdown();
                         self->ReadHeader();
                       });
  }

  void Shutdown() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ec2;
        beast::get_lowest_layer(self->stream_).socket().close(ec2);
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.socket().close(ec);
    }
  }

  ServerImpl* server_;
  Stream stream_;
  std::string ip_;
  bool tls_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request head_;
};

void ServerImpl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!stopped_ && acceptor_.is_open()) Accept();
      return;
    }
    beast::error_code ec2;
    auto remote = socket.remote_endpoint(ec2);
    std::string ip = ec2 ? "" : remote.address().to_string();
    if (remote.address().is_v6() && remote.address().to_v6().is_v4_mapped()) {
      ip = net::ip::make_address_v4(net::ip::v4_mapped, remote.address().to_v6()).to_string();
    }
    socket.set_option(tcp::no_delay(true), ec2);
    if (tls_) {
      std::make_shared<HttpSession<beast::ssl_stream<beast::tcp_stream>>>(
          this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), ssl_ctx_), ip,
          true)
          ->Run();
    } else {
      std::make_shared<HttpSession<beast::tcp_stream>>(this, beast::tcp_stream(std::move(socket)), ip, false)
          ->Run();
    }
    Accept();
  });
}

}  // namespace

const std::string& Request::Header(const std::string& lower_name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return kEmpty;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(ServerOptions options) {
  if (!options.handler) return absl::InvalidArgumentError("HttpServer needs a handler");
  auto server = std::make_unique<ServerImpl>(std::move(options));
  absl::Status st = server->Init();
  if (!st.ok()) return st;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace cloudillo::http
