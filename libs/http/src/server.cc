// The listener: accepts connections on a pool of I/O threads, hands each to a
// session (http_session.cc), counts requests in flight and connections, and stops in
// the order a drain needs.
#include "cloudillo/http/server.h"

#include <thread>

#include "cloudillo/core/log.h"
#include "session.h"

namespace cloudillo::http {

namespace internal {

void CallGuarded(const char* where, const std::function<void()>& fn, const std::function<void()>& on_throw) {
  try {
    fn();
    return;
  } catch (const std::exception& e) {
    LogError("unhandled_exception", {{"where", where}, {"error", e.what()}});
  } catch (...) {
    LogError("unhandled_exception", {{"where", where}, {"error", "non-standard exception"}});
  }
  try {
    on_throw();
  } catch (...) {
    LogError("unhandled_exception", {{"where", where}, {"error", "while answering an exception"}});
  }
}

}  // namespace internal

namespace {

using namespace internal;

class ServerImpl final : public HttpServer, public ServerContext {
 public:
  explicit ServerImpl(ServerOptions o)
      : opts_(std::move(o)),
        contexts_(MakeContexts(opts_.threads)),
        acceptor_(*contexts_[0]),
        ssl_ctx_(ssl::context::tls_server) {}

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
    for (auto& ctx : contexts_) {
      guards_.emplace_back(net::make_work_guard(*ctx));
      threads_.emplace_back([this, c = ctx.get()] { RunLoop(*c); });
    }
    return absl::OkStatus();
  }

  ~ServerImpl() override { Stop(absl::ZeroDuration()); }

  int port() const override { return port_; }
  int64_t in_flight() const override { return in_flight_; }
  int64_t connections() const override { return connections_; }

  void StopAccepting() override {
    if (stopping_.exchange(true)) return;
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    for (auto& c : Live()) c->CloseIfIdle();
  }

  bool AwaitIdle(absl::Time deadline) override {
    while (in_flight_ > 0 && absl::Now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return in_flight_ == 0;
  }

  void Stop(absl::Duration grace) override {
    if (stopped_.exchange(true)) return;
    StopAccepting();
    AwaitIdle(absl::Now() + grace);
    for (auto& c : Live()) c->CloseNow();
    // Let the closes run, then end the loops.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    guards_.clear();
    for (auto& ctx : contexts_) ctx->stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // ServerContext
  const ServerOptions& options() const override { return opts_; }
  bool stopping() const override { return stopping_; }
  void RequestStarted() override { ++in_flight_; }
  void RequestFinished() override { --in_flight_; }
  uint64_t Register(std::weak_ptr<Connection> c) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t id = ++next_id_;
    live_.emplace(id, std::move(c));
    return id;
  }
  void Unregister(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(id);
  }

 private:
  std::vector<std::shared_ptr<Connection>> Live() {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, weak] : live_) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }

  // One event loop per thread, each connection on one of them: a connection's work
  // never wakes another thread (a wake-up costs more than parsing a request).
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int threads) {
    std::vector<std::unique_ptr<net::io_context>> out;
    for (int i = 0; i < std::max(1, threads); ++i) out.push_back(std::make_unique<net::io_context>(1));
    return out;
  }

  // An exception escaping a completion handler unwinds io_context::run(); log it and
  // keep the thread serving instead of ending the process.
  void RunLoop(net::io_context& ioc) {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        LogError("unhandled_exception", {{"where", "event_loop"}, {"error", e.what()}});
      } catch (...) {
        LogError("unhandled_exception", {{"where", "event_loop"}, {"error", "non-standard exception"}});
      }
    }
  }

  void Accept() {
    net::io_context& next = *contexts_[next_context_++ % contexts_.size()];
    acceptor_.async_accept(next.get_executor(), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (!stopping_ && acceptor_.is_open()) Accept();
        return;
      }
      Accept();
      if (size_t(connections_.load()) >= opts_.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
        return;
      }
      beast::error_code ec2;
      auto remote = socket.remote_endpoint(ec2);
      std::string ip;
      if (!ec2) {
        auto a = remote.address();
        if (a.is_v6() && a.to_v6().is_v4_mapped())
          a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
        ip = a.to_string();
      }
      socket.set_option(tcp::no_delay(true), ec2);
      auto slot = std::make_shared<ConnectionSlot>(connections_);
      if (tls_) {
        ServeTls(this, std::move(socket), ssl_ctx_, std::move(ip), std::move(slot));
      } else {
        ServePlain(this, std::move(socket), std::move(ip), std::move(slot));
      }
    });
  }

  ServerOptions opts_;
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  size_t next_context_ = 0;  // accept handler only
  tcp::acceptor acceptor_;
  ssl::context ssl_ctx_;
  bool tls_ = false;
  int port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> connections_{0};
  std::atomic<bool> stopping_{false}, stopped_{false};
  std::mutex mu_;
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> live_;
};

}  // namespace

const std::string& Request::Header(std::string_view lower_name) const {
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

void StopTogether(std::initializer_list<HttpServer*> servers, absl::Duration grace) {
  for (HttpServer* s : servers) {
    if (s) s->StopAccepting();
  }
  absl::Time deadline = absl::Now() + grace;
  for (HttpServer* s : servers) {
    if (s) s->AwaitIdle(deadline);
  }
  for (HttpServer* s : servers) {
    if (s) s->Stop(absl::ZeroDuration());
  }
}

}  // namespace cloudillo::http
