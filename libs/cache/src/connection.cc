#include "connection.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <exception>

#include "absl/strings/str_cat.h"
#include "cloudillo/core/log.h"

namespace cloudillo::cache::internal {

Clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(d));
}

void Deliver(const Redis::Callback& done, absl::StatusOr<Reply> result) {
  static std::atomic<bool> logged{false};
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    if (!logged.exchange(true)) LogError("redis_callback_exception", {{"error", e.what()}});
  } catch (...) {
    if (!logged.exchange(true)) LogError("redis_callback_exception", {{"error", "non-standard exception"}});
  }
}

absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const RedisConfig& config) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (config.tls_ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return absl::InvalidArgumentError("redis TLS: system CA paths: " + ec.message());
  } else {
    ctx->load_verify_file(config.tls_ca_file, ec);
    if (ec)
      return absl::InvalidArgumentError("redis TLS: CA file '" + config.tls_ca_file + "': " + ec.message());
  }
  if (!config.tls_cert_file.empty()) {
    ctx->use_certificate_chain_file(config.tls_cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError("redis TLS: certificate '" + config.tls_cert_file +
                                        "': " + ec.message());
    }
    ctx->use_private_key_file(config.tls_key_file, asio::ssl::context::pem, ec);
    if (ec || SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return absl::InvalidArgumentError("redis TLS: key '" + config.tls_key_file +
                                        "' is unreadable or does not match the certificate");
    }
  }
  return ctx;
}

ClientSetup PrepareClient(const RedisConfig& config) {
  ClientSetup setup;
  if (config.tls) {
    auto ctx = MakeTlsContext(config);
    if (ctx.ok()) {
      setup.tls = *ctx;
    } else {
      setup.error = ctx.status();
    }
  }
  if (absl::Status st = config.Validate(); !st.ok()) setup.error = st;
  return setup;
}

Connection::Connection(asio::io_context& io, tcp::socket socket, std::unique_ptr<TlsStream> tls,
                       std::string peer, absl::Duration command_timeout)
    : socket_(std::move(socket)),
      tls_(std::move(tls)),
      peer_(std::move(peer)),
      command_timeout_(ToChrono(command_timeout)),
      opened_at_(Clock::now()),
      timer_(io) {}

void Connection::Start(PushHandler on_push, CloseHandler on_close) {
  SetHandlers(std::move(on_push), std::move(on_close));
  if (started_) return;
  started_ = true;
  ReadMore();
}

void Connection::SetHandlers(PushHandler on_push, CloseHandler on_close) {
  on_push_ = std::move(on_push);
  on_close_ = std::move(on_close);
}

void Connection::Send(std::string_view wire, Redis::Callback done) {
  if (closed_) {
    // Never inline: the caller may hold locks or be half-way through its own state change.
    asio::post(timer_.get_executor(), [done = std::move(done), peer = peer_] {
      Deliver(done, absl::UnavailableError("redis: connection to " + peer + " is closed"));
    });
    return;
  }
  fifo_.push_back({std::move(done), Clock::now() + command_timeout_});
  out_.append(wire);
  Flush();
  ArmTimer();
}

void Connection::Write(std::string_view wire) {
  if (closed_) return;
  out_.append(wire);
  Flush();
}

void Connection::Close(const absl::Status& why) {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  lowest().shutdown(tcp::socket::shutdown_both, ignored);
  lowest().close(ignored);
  on_push_ = nullptr;
  on_close_ = nullptr;
  std::deque<Pending> failed;
  failed.swap(fifo_);
  for (auto& p : failed) Deliver(p.done, why);
}

void Connection::Fail(const absl::Status& why) {
  if (closed_) return;
  CloseHandler on_close = std::move(on_close_);
  Close(why);
  if (on_close) on_close(why);
}

void Connection::ReadMore() {
  WithStream([this](auto& stream) {
    stream.async_read_some(
        asio::buffer(rbuf_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) { self->OnRead(ec, n); });
  });
}

void Connection::OnRead(const boost::system::error_code& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
    Fail(absl::UnavailableError(eof ? "redis: " + peer_ + " closed the connection"
                                    : "redis: reading from " + peer_ + ": " + ec.message()));
    return;
  }
  if (!reader_.Feed(rbuf_.data(), n).ok()) {
    Fail(reader_.status());
    return;
  }
  while (!closed_) {
    std::optional<absl::StatusOr<Reply>> reply = reader_.Next();
    if (!reply) break;
    Dispatch(std::move(*reply));
  }
  if (closed_) return;
  if (!reader_.status().ok()) {
    Fail(reader_.status());
    return;
  }
  ReadMore();
}

void Connection::Dispatch(absl::StatusOr<Reply> reply) {
  if (!fifo_.empty()) {
    Redis::Callback done = std::move(fifo_.front().done);
    fifo_.pop_front();
    Deliver(done, std::move(reply));
  } else if (on_push_) {
    on_push_(std::move(reply));
  } else {
    Fail(absl::UnavailableError("redis: unexpected reply from " + peer_));
  }
}

void Connection::Flush() {
  if (write_in_flight_ || out_.empty() || closed_) return;
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  WithStream([this](auto& stream) {
    asio::async_write(
        stream, asio::buffer(writing_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
          self->write_in_flight_ = false;
          if (self->closed_) return;
          if (ec) {
            self->Fail(absl::UnavailableError("redis: writing to " + self->peer_ + ": " + ec.message()));
            return;
          }
          // A burst must not pin its buffer for the connection's lifetime.
          if (self->writing_.capacity() > (size_t(1) << 20)) self->writing_.shrink_to_fit();
          self->writing_.clear();
          self->Flush();
        });
  });
}

void Connection::ArmTimer() {
  if (timer_armed_ || fifo_.empty() || closed_) return;
  timer_armed_ = true;
  timer_.expires_at(fifo_.front().deadline);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) { self->OnTimer(ec); });
}

void Connection::OnTimer(const boost::system::error_code& ec) {
  timer_armed_ = false;
  if (closed_ || ec || fifo_.empty()) return;
  if (fifo_.front().deadline <= Clock::now()) {
    Fail(absl::UnavailableError(absl::StrCat("redis: no reply from ", peer_, " within ",
                                             absl::FormatDuration(absl::FromChrono(command_timeout_)))));
    return;
  }
  ArmTimer();
}

std::shared_ptr<Connector> Connector::Start(asio::io_context& io, const RedisAddress& addr,
                                            const TlsSettings& tls, absl::Duration timeout,
                                            absl::Duration command_timeout, Done done) {
  auto c = std::make_shared<Connector>(io, addr, tls, timeout, command_timeout, std::move(done));
  c->Run();
  return c;
}

Connector::Connector(asio::io_context& io, const RedisAddress& addr, const TlsSettings& tls,
                     absl::Duration timeout, absl::Duration command_timeout, Done done)
    : io_(io),
      addr_(addr),
      peer_(addr.ToString()),
      tls_settings_(tls),
      timeout_(timeout),
      command_timeout_(command_timeout),
      done_(std::move(done)),
      resolver_(io),
      socket_(io),
      timer_(io) {}

void Connector::Run() {
  timer_.expires_after(ToChrono(timeout_));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    self->Finish(absl::UnavailableError(absl::StrCat("redis: connecting to ", self->peer_, " took over ",
                                                     absl::FormatDuration(self->timeout_))));
  });
  resolver_.async_resolve(addr_.host, std::to_string(addr_.port),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      const tcp::resolver::results_type& results) {
                            self->OnResolved(ec, results);
                          });
}

void Connector::OnResolved(const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
  if (!done_) return;
  if (ec) {
    Finish(absl::UnavailableError("redis: resolving " + addr_.host + ": " + ec.message()));
    return;
  }
  asio::async_connect(socket_, results,
                      [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
                        self->OnConnected(ec);
                      });
}

void Connector::OnConnected(const boost::system::error_code& ec) {
  if (!done_) return;
  if (ec) {
    Finish(absl::UnavailableError("redis: connecting to " + peer_ + ": " + ec.message()));
    return;
  }
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.set_option(asio::socket_base::keep_alive(true), ignored);
  if (!tls_settings_.context) {
    Finish(std::make_shared<Connection>(io_, std::move(socket_), nullptr, peer_, command_timeout_));
    return;
  }
  tls_ = std::make_unique<TlsStream>(std::move(socket_), *tls_settings_.context);
  const std::string& name = tls_settings_.server_name.empty() ? addr_.host : tls_settings_.server_name;
  SSL* ssl = tls_->native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  boost::system::error_code not_ip;
  asio::ip::make_address(name, not_ip);
  if (!not_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI carries names only, never addresses
  }
  tls_->async_handshake(
      asio::ssl::stream_base::client,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->OnHandshake(ec); });
}

void Connector::OnHandshake(const boost::system::error_code& ec) {
  if (!done_) return;
  if (ec) {
    std::string why = ec.message();
    long verify = SSL_get_verify_result(tls_->native_handle());
    if (verify != X509_V_OK) why += std::string(": ") + X509_verify_cert_error_string(verify);
    Finish(absl::UnavailableError("redis: TLS handshake with " + peer_ + ": " + why));
    return;
  }
  tcp::socket unused(io_);
  Finish(std::make_shared<Connection>(io_, std::move(unused), std::move(tls_), peer_, command_timeout_));
}

void Connector::Cancel() { Finish(absl::CancelledError("redis: connect cancelled")); }

void Connector::Finish(absl::StatusOr<std::shared_ptr<Connection>> result) {
  if (!done_) return;
  Done done = std::move(done_);
  done_ = nullptr;
  timer_.cancel();
  if (!result.ok()) Abort();
  done(std::move(result));
}

void Connector::Abort() {
  resolver_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (tls_) tls_->next_layer().close(ignored);
}

}  // namespace cloudillo::cache::internal
