// A small HTTP/1.1 server on 127.0.0.1 (free port) for the client and resolver tests:
// one thread accepting, one per connection, plain or TLS. An HttpHandler answers
// parsed requests (keep-alive honoured); a RawHandler gets the socket to misbehave.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cloudillo::federation::testing {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class TestServer {
 public:
  using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
  using RawHandler = std::function<void(boost::asio::ip::tcp::socket&)>;

  // With cert_file/key_file (PEM) the server speaks TLS.
  explicit TestServer(HttpHandler handler, const std::string& cert_file = "",
                      const std::string& key_file = "");
  explicit TestServer(RawHandler handler);
  ~TestServer();

  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void Start();
  void AcceptLoop();
  void Serve(boost::asio::ip::tcp::socket& socket);

  HttpHandler http_;
  RawHandler raw_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> sessions_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
};

// Reads up to the end of a request head ("\r\n\r\n"); false on EOF first.
bool ReadHead(boost::asio::ip::tcp::socket& socket);
// Reads until the peer closes (a server that never answers).
void DrainUntilClosed(boost::asio::ip::tcp::socket& socket);
void WriteAll(boost::asio::ip::tcp::socket& socket, const std::string& data);

HttpResponse Reply(int status, std::string body, const std::string& content_type = "application/json");

// A self-signed certificate for `dns_name` made with the openssl command line in a
// fresh temporary folder; returns the folder (<dir>/cert.pem, <dir>/key.pem).
std::string MakeSelfSignedCert(const std::string& dns_name);

}  // namespace cloudillo::federation::testing
