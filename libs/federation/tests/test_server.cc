#include "test_server.h"

#include <stdlib.h>
#include <sys/socket.h>

#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdlib>
#include <stdexcept>

namespace cloudillo::federation::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

template <class Stream>
void ServeHttp(Stream& stream, const TestServer::HttpHandler& handler, std::atomic<int>& requests) {
  beast::flat_buffer buffer;
  while (true) {
    HttpRequest req;
    boost::system::error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    ++requests;
    HttpResponse res = handler(req);
    if (!req.keep_alive()) res.keep_alive(false);
    res.prepare_payload();
    http::write(stream, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

}  // namespace

TestServer::TestServer(HttpHandler handler, const std::string& cert_file, const std::string& key_file)
    : http_(std::move(handler)), acceptor_(ioc_) {
  if (!cert_file.empty()) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->use_certificate_chain_file(cert_file);
    tls_->use_private_key_file(key_file, asio::ssl::context::pem);
  }
  Start();
}

TestServer::TestServer(RawHandler handler) : raw_(std::move(handler)), acceptor_(ioc_) { Start(); }

void TestServer::Start() {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TestServer::~TestServer() {
  stopping_ = true;
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  accept_thread_.join();
  std::vector<std::thread> sessions;
  {
    std::lock_guard lock(mu_);
    for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    sessions.swap(sessions_);
  }
  for (auto& t : sessions) t.join();
}

void TestServer::AcceptLoop() {
  while (!stopping_) {
    boost::system::error_code ec;
    auto socket = std::make_shared<tcp::socket>(ioc_);
    acceptor_.accept(*socket, ec);
    if (ec || stopping_) return;
    ++connections_;
    std::lock_guard lock(mu_);
    sockets_.push_back(socket);
    sessions_.emplace_back([this, socket] { Serve(*socket); });
  }
}

void TestServer::Serve(tcp::socket& socket) {
  if (raw_) {
    raw_(socket);
  } else if (tls_) {
    asio::ssl::stream<tcp::socket&> stream(socket, *tls_);
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) ServeHttp(stream, http_, requests_);
  } else {
    ServeHttp(socket, http_, requests_);
  }
  // The socket stays open (and listed) until the server stops, so a shutdown() in the
  // destructor never hits a reused descriptor number.
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

bool ReadHead(tcp::socket& socket) {
  std::string data;
  char buf[1024];
  while (data.find("\r\n\r\n") == std::string::npos) {
    boost::system::error_code ec;
    size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec) return false;
    data.append(buf, n);
  }
  return true;
}

void DrainUntilClosed(tcp::socket& socket) {
  char buf[1024];
  boost::system::error_code ec;
  while (!ec) socket.read_some(asio::buffer(buf), ec);
}

void WriteAll(tcp::socket& socket, const std::string& data) {
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(data), ec);
}

HttpResponse Reply(int status, std::string body, const std::string& content_type) {
  HttpResponse res{http::status(status), 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.keep_alive(true);
  return res;
}

std::string MakeSelfSignedCert(const std::string& dns_name) {
  char tmpl[] = "/tmp/cloudillo-fed-test.XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  std::string dir = tmpl;
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout " +
                    dir + "/key.pem -out " + dir + "/cert.pem -subj /CN=" + dns_name +
                    " -addext subjectAltName=DNS:" + dns_name + " -addext basicConstraints=critical,CA:TRUE" +
                    " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed");
  return dir;
}

}  // namespace cloudillo::federation::testing
