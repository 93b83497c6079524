// An HTTP/1.1 + WebSocket server on Boost.Beast, plain or TLS, used by the gateway
// and by every process's ops port (/metrics, /healthz, /readyz).
//
// Guarantees:
//   - header block limited (431 when exceeded); the body limit is chosen per request
//     from its head by `body_limit`, and a declared Content-Length over it is answered
//     413 before any body byte is read; a chunked body that grows past it gets 413 too;
//   - idle connections close after `idle_timeout`; a slow client cannot hold a
//     thread: all I/O is asynchronous on `threads` threads;
//   - the handler runs synchronously on an I/O thread (it may block on an RPC, so
//     size `threads` for the expected concurrency);
//   - Stop() stops accepting, lets in-flight requests finish for `grace`, then closes.
// Malformed requests never reach the handler: they get `on_bad_request`'s answer
// (the gateway uses this to answer in its error envelope) and the connection closes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cloudillo::http {

struct Request {
  std::string method;                                        // as sent, e.g. "GET"
  std::string target;                                        // raw request-target, e.g. "/api/me?x=1"
  std::string path;                                          // target before '?', not decoded
  std::string query;                                         // after '?', not decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string client_ip;
  bool tls = false;
  bool websocket_upgrade = false;

  // First header with this lowercase name, or "".
  const std::string& Header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  void Set(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

// A WebSocket accepted by the server. Callbacks run on I/O threads, one at a time per
// connection. Send() and Close() may be called from any thread.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  virtual void Send(std::string message, bool binary) = 0;
  virtual void Close(uint16_t code, std::string reason) = 0;
  std::function<void(const std::string& message, bool binary)> on_message;
  std::function<void()> on_close;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  int port = 0;  // 0 picks a free port (see HttpServer::port())
  int threads = 4;
  size_t header_limit = 16 * 1024;
  absl::Duration idle_timeout = absl::Seconds(60);
  // TLS: PEM certificate chain and key files; empty = plain HTTP.
  std::string tls_cert_file, tls_key_file;
  // Largest WebSocket message accepted (PROTOCOL §10: 16 MiB).
  size_t websocket_message_limit = 16 * 1024 * 1024;

  // The largest body any route accepts. It is enforced while the head is parsed,
  // because the parser reserves a declared Content-Length as soon as the head ends.
  size_t max_body_limit = 16 * 1024 * 1024;
  std::function<size_t(const Request& head)> body_limit = [](const Request&) { return size_t(1) << 20; };
  std::function<Response(const Request&)> handler;
  // Status is 400/413/431; the answer is sent and the connection closed.
  std::function<Response(int status, const std::string& reason)> on_bad_request;
  // For a WebSocket upgrade: return an error response to refuse, or nullopt-like
  // (status 101) to accept; `accepted` then receives the socket to wire callbacks.
  std::function<Response(const Request&)> websocket_check;
  std::function<void(const Request&, std::shared_ptr<WebSocket>)> websocket_accepted;
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(ServerOptions options);
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  virtual void Stop(absl::Duration grace) = 0;
  virtual int64_t in_flight() const = 0;
};

}  // namespace cloudillo::http
