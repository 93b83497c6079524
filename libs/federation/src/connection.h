// One outbound HTTP/1.1 connection, plain or TLS, driven by blocking calls.
//
// Each connection owns its io_context: a call starts one asynchronous step and runs
// the context on the caller's thread until that step completes, so worker threads
// never share a loop, and the tcp_stream expiry (set to the request's deadline before
// every step) bounds connect, handshake, write and read alike. A connection is used by
// one thread at a time (the pool hands it out exclusively).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/federation/client.h"

namespace cloudillo::federation {

using Deadline = std::chrono::steady_clock::time_point;

struct OutboundRequest {
  bool post = false;
  std::string host_header;  // also SNI and the name the certificate must carry
  std::string target;       // path and query
  std::string body;         // POST only, JSON
  const std::map<std::string, std::string>* headers = nullptr;
  std::string user_agent;
  size_t max_body = 0;
};

class Connection {
 public:
  // `tls_context` is null for plain HTTP.
  explicit Connection(boost::asio::ssl::context* tls_context);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to the first reachable endpoint (all already checked by the caller), then
  // does the TLS handshake verifying `server_name`.
  absl::Status Open(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                    const std::string& server_name, Deadline deadline);

  struct Outcome {
    absl::StatusOr<Response> response;
    bool reusable = false;     // the exchange completed and both sides keep the connection
    bool nothing_read = true;  // the failure came before any byte of a reply (safe retry)
  };
  Outcome Exchange(const OutboundRequest& request, Deadline deadline);

  // False when the peer closed, reset or sent unsolicited bytes since the last reply.
  bool LooksAlive();

 private:
  boost::beast::tcp_stream& Lowest();

  boost::asio::io_context ioc_;
  std::unique_ptr<boost::beast::tcp_stream> plain_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
};

// Maps a failed step to the Client's status codes.
absl::Status StepError(std::string_view step, std::string_view host, const boost::system::error_code& ec);

}  // namespace cloudillo::federation
