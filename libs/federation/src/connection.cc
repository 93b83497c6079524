#include "connection.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::federation {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Headers are small (a peer's reply is an envelope); a peer streaming header bytes
// forever is cut here rather than at the body limit.
constexpr uint32_t kHeaderLimit = 64 * 1024;

// Runs one started operation to completion on the calling thread.
void RunStep(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

}  // namespace

absl::Status StepError(std::string_view step, std::string_view host, const boost::system::error_code& ec) {
  std::string what = absl::StrCat("federation: ", AV(step), " ", AV(host), ": ", ec.message());
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(what);
  if (ec == http::error::body_limit) return absl::ResourceExhaustedError(what);
  return absl::UnavailableError(what);
}

Connection::Connection(asio::ssl::context* tls_context) : buffer_(1 << 20) {
  if (tls_context) {
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, *tls_context);
  } else {
    plain_ = std::make_unique<beast::tcp_stream>(ioc_);
  }
}

Connection::~Connection() {
  boost::system::error_code ignored;
  Lowest().socket().close(ignored);
}

beast::tcp_stream& Connection::Lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

absl::Status Connection::Open(const std::vector<tcp::endpoint>& endpoints, const std::string& server_name,
                              Deadline deadline) {
  boost::system::error_code result = asio::error::would_block;
  Lowest().expires_at(deadline);
  Lowest().async_connect(endpoints,
                         [&](const boost::system::error_code& ec, const tcp::endpoint&) { result = ec; });
  RunStep(ioc_);
  if (result) return StepError("connect to", server_name, result);
  Lowest().socket().set_option(tcp::no_delay(true), result);
  if (!tls_) return absl::OkStatus();

  SSL* ssl = tls_->native_handle();
  // SNI and the certificate check both name the API host, never the mapped address.
  SSL_set_tlsext_host_name(ssl, server_name.c_str());
  X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  tls_->set_verify_mode(asio::ssl::verify_peer);
  tls_->set_verify_callback(asio::ssl::host_name_verification(server_name), result);
  if (result) return StepError("TLS setup for", server_name, result);
  result = asio::error::would_block;
  Lowest().expires_at(deadline);
  tls_->async_handshake(asio::ssl::stream_base::client,
                        [&](const boost::system::error_code& ec) { result = ec; });
  RunStep(ioc_);
  if (result) {
    std::string why = result.message();
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) why += std::string(": ") + X509_verify_cert_error_string(verify);
    if (result == beast::error::timeout) return StepError("TLS handshake with", server_name, result);
    return absl::UnavailableError(absl::StrCat("federation: TLS handshake with ", server_name, ": ", why));
  }
  return absl::OkStatus();
}

Connection::Outcome Connection::Exchange(const OutboundRequest& request, Deadline deadline) {
  Outcome out;
  http::request<http::string_body> req{request.post ? http::verb::post : http::verb::get, request.target, 11};
  req.set(http::field::host, request.host_header);
  req.set(http::field::user_agent, request.user_agent);
  req.set(http::field::accept, "application/json");
  if (request.headers) {
    for (const auto& [name, value] : *request.headers) req.set(name, value);
  }
  req.keep_alive(true);
  if (request.post) {
    req.set(http::field::content_type, "application/json");
    req.body() = request.body;
  }
  req.prepare_payload();

  boost::system::error_code result = asio::error::would_block;
  Lowest().expires_at(deadline);
  auto on_done = [&](const boost::system::error_code& ec, size_t) { result = ec; };
  if (tls_) {
    http::async_write(*tls_, req, on_done);
  } else {
    http::async_write(*plain_, req, on_done);
  }
  RunStep(ioc_);
  if (result) {
    out.response = StepError("send to", request.host_header, result);
    return out;
  }

  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(request.max_body);
  // The head first, so a declared length over the limit is refused before any body
  // byte is read.
  result = asio::error::would_block;
  Lowest().expires_at(deadline);
  if (tls_) {
    http::async_read_header(*tls_, buffer_, parser, on_done);
  } else {
    http::async_read_header(*plain_, buffer_, parser, on_done);
  }
  RunStep(ioc_);
  out.nothing_read = !parser.got_some();
  if (!result && parser.content_length() && *parser.content_length() > request.max_body)
    result = http::error::body_limit;
  if (!result && !parser.is_done()) {
    result = asio::error::would_block;
    Lowest().expires_at(deadline);
    if (tls_) {
      http::async_read(*tls_, buffer_, parser, on_done);
    } else {
      http::async_read(*plain_, buffer_, parser, on_done);
    }
    RunStep(ioc_);
  }
  if (!result && parser.get().body().size() > request.max_body) result = http::error::body_limit;
  if (result) {
    out.response = StepError("reply from", request.host_header, result);
    return out;
  }
  Lowest().expires_never();

  Response response;
  auto& msg = parser.get();
  response.status = int(msg.result_int());
  for (const auto& field : msg) {
    std::string name =
        absl::AsciiStrToLower(AV(std::string_view(field.name_string().data(), field.name_string().size())));
    std::string_view value(field.value().data(), field.value().size());
    auto [it, inserted] = response.headers.try_emplace(name, value);
    if (!inserted) absl::StrAppend(&it->second, ", ", AV(value));
  }
  response.body = std::move(msg.body());
  // An interim (1xx) reply or a body delimited by EOF leaves the stream in no state to
  // reuse; so does any byte the peer sent beyond the reply.
  out.reusable = parser.is_done() && msg.keep_alive() && !parser.need_eof() && response.status >= 200 &&
                 buffer_.size() == 0;
  out.response = std::move(response);
  return out;
}

bool Connection::LooksAlive() {
  char byte;
  ssize_t n = ::recv(Lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  // TLS 1.3 servers may send session tickets after a reply: records, not a new reply.
  return n > 0 && tls_ != nullptr;
}

}  // namespace cloudillo::federation
