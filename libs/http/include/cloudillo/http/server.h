// An HTTP/1.1 + WebSocket server on Boost.Beast, plain or TLS, used by the gateway
// and by every process's ops port (/metrics, /healthz, /readyz).
//
// The handler is asynchronous: it receives an Exchange for each request head and
// answers whenever it is ready, from any thread. I/O threads never wait on it, so a
// backend call, a Redis round trip or a timer holds no thread (DESIGN "The gateway
// never blocks").
//
// Guarantees:
//   - framing as RFC 9112 asks: exactly one Host (HTTP/1.1), at most one
//     Content-Length, Transfer-Encoding only as a single `chunked` and never with
//     Content-Length, no obsolete line folding, at most `max_header_fields` fields
//     and `header_limit` bytes (431); anything else is refused and the connection
//     closed, so no second request can be smuggled behind a first;
//   - the body limit is chosen per request from its head (`body_plan`); a declared
//     Content-Length over it is 413 before any body byte is read; a chunked body
//     growing past it is 413 too;
//   - a request head must arrive within `idle_timeout`, a body at a steady pace;
//     at most `max_connections` connections are open (more are closed at once);
//   - an exception thrown by the handler or by work posted through an Exchange is
//     caught: the request gets `on_internal_error`'s answer and the process lives;
//   - StopAccepting() closes the listener and idle connections; AwaitIdle() waits
//     for answers in progress; Stop() does both and ends the threads.
// Malformed requests never reach the handler: they get `on_bad_request`'s answer.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
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
  std::string body;                                          // buffered bodies only
  std::string client_ip;
  bool tls = false;
  bool websocket_upgrade = false;

  // First header with this lowercase name, or "".
  const std::string& Header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The wire error code (E-…) of an error answer, for counters and logs; not sent.
  std::string error_code;
  // Sent instead of `body` when set: bytes kept in memory and sent to many clients
  // (a cached file) go out without a copy per answer. Never compressed.
  std::shared_ptr<const std::string> shared_body;
  void Set(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

// How the server reads a request's body, decided from its head.
struct BodyPlan {
  size_t limit = size_t(1) << 20;
  // false: the body is read whole into Request::body before the handler runs.
  // true: the handler runs after the head and pulls the body with Exchange::ReadBody.
  bool stream = false;
};

// Per-socket settings chosen when an upgrade is accepted (a route knows what its
// protocol needs; the server's limits are the ceiling).
struct WebSocketOptions {
  // Largest message taken from the peer, in bytes; 0 or more than
  // ServerOptions::websocket_message_limit means that limit. A larger message closes
  // the socket with 1009 (message too big) and fails the pending Read with Unavailable.
  size_t max_message = 0;
  // A ping goes out after this long without a frame from the peer (PROTOCOL §5.2: 15 s
  // for live documents); zero means ServerOptions::websocket_ping_interval.
  absl::Duration ping_interval = absl::ZeroDuration();
};

struct WsMessage {
  std::string data;
  bool binary = false;
};

// An accepted WebSocket. Pull-based, so a slow consumer slows its peer instead of
// buffering: at most one Read and one Write may be outstanding. Thread-safe;
// callbacks run on the connection's strand. Read fails with Cancelled once the peer
// closed (the close code is then in peer_close_code()) and Unavailable when the
// connection broke; after either, the socket is done.
//
// Read, Write and Close called on the socket's I/O thread start there and then; from
// any other thread they hop to it, a wake-up each. A caller with work for many sockets
// hops once per thread instead: it groups the sockets by loop() and Post()s each
// group's work to one of them. Callbacks never run inside the call that asked for them.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  virtual void Read(std::function<void(absl::StatusOr<WsMessage>)> done) = 0;
  virtual void Write(WsMessage message, std::function<void(absl::Status)> done) = 0;
  virtual void Close(uint16_t code, std::string reason) = 0;
  virtual int peer_close_code() const = 0;
  // Runs `fn` on the socket's I/O thread, after what was posted there before.
  virtual void Post(std::function<void()> fn) = 0;
  // The socket's I/O thread, as a key: sockets with the same loop() share a Post.
  virtual const void* loop() const = 0;
};

// One request and its answer, handed to the handler for every request head. The
// handler keeps it (shared_ptr) while it works. Every method is thread-safe: the work
// is posted to the connection's strand. Give exactly one answer: Respond(); or
// StartResponse(), WriteBody()…, FinishResponse(); or, for an upgrade request,
// AcceptWebSocket(). Dropping the last reference without an answer closes the
// connection.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;

  virtual void Respond(Response response) = 0;

  // Streamed bodies only: the next chunk (non-empty), or an empty string at the end.
  // InvalidArgument for a malformed body, ResourceExhausted past the limit,
  // Unavailable when the client went away or stalled. One call outstanding at a time.
  virtual void ReadBody(std::function<void(absl::StatusOr<std::string>)> done) = 0;

  // A streamed answer: `head` without body, then chunks. With `content_length` the
  // answer is sent with that length, else chunked. `done` reports each write.
  virtual void StartResponse(Response head, std::optional<uint64_t> content_length) = 0;
  virtual void WriteBody(std::string chunk, std::function<void(absl::Status)> done) = 0;
  virtual void FinishResponse() = 0;
  // Ends a streamed answer that cannot be completed: the connection is closed.
  virtual void Abort() = 0;

  // Completes the handshake of an upgrade request (101) and hands over the socket, or
  // nullptr when the handshake failed (the client went away).
  virtual void AcceptWebSocket(WebSocketOptions options,
                               std::function<void(std::shared_ptr<WebSocket>)> accepted) = 0;
  void AcceptWebSocket(std::function<void(std::shared_ptr<WebSocket>)> accepted) {
    AcceptWebSocket(WebSocketOptions{}, std::move(accepted));
  }

  // Runs `fn` on this exchange's strand, behind the exception barrier.
  virtual void Post(std::function<void()> fn) = 0;
  virtual void PostAfter(absl::Duration delay, std::function<void()> fn) = 0;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  int port = 0;  // 0 picks a free port (see HttpServer::port())
  int threads = 4;
  size_t header_limit = 16 * 1024;
  size_t max_header_fields = 100;
  size_t max_connections = 20000;
  absl::Duration idle_timeout = absl::Seconds(60);
  // TLS: PEM certificate chain and key files; empty = plain HTTP.
  std::string tls_cert_file, tls_key_file;
  // Largest WebSocket message accepted (PROTOCOL §10: 16 MiB).
  size_t websocket_message_limit = 16 * 1024 * 1024;
  // Largest single frame (PROTOCOL §10: 4 MiB). Browsers send a message as one frame, so
  // for them this is the message limit; a fragmented message may reach the one above.
  size_t websocket_frame_limit = 4 * 1024 * 1024;
  // A WebSocket ping goes out after this long without a frame from the peer, and a peer
  // silent (no pong either) for twice as long is dropped: PROTOCOL §6.5 and §7 ping
  // every 30 s, and a vanished client must not hold its connection for minutes.
  absl::Duration websocket_ping_interval = absl::Seconds(30);
  // The largest body any route accepts. It is enforced while the head is parsed,
  // because the parser would reserve a declared Content-Length as soon as the head ends.
  size_t max_body_limit = 16 * 1024 * 1024;

  std::function<BodyPlan(const Request& head)> body_plan = [](const Request&) { return BodyPlan{}; };
  std::function<void(std::shared_ptr<Exchange>)> handler;
  // 400/413/431 for a malformed request; the answer is sent and the connection closed.
  std::function<Response(int status, const std::string& reason)> on_bad_request;
  // The answer when a handler threw before answering (a 500 in the caller's format).
  std::function<Response()> on_internal_error;
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(ServerOptions options);
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  // Closes the listener and every connection that is not in the middle of a request;
  // connections finishing a request close after their answer.
  virtual void StopAccepting() = 0;
  // Waits until no request is being answered, or until `deadline`; true when idle.
  virtual bool AwaitIdle(absl::Time deadline) = 0;
  // StopAccepting, AwaitIdle(now + grace), then closes everything and joins threads.
  virtual void Stop(absl::Duration grace) = 0;
  virtual int64_t in_flight() const = 0;
  virtual int64_t connections() const = 0;
};

// Stops several servers as one (HTTP and HTTPS of one process): every listener closes
// first, then all share one grace period for the requests in flight. Null entries are
// skipped.
void StopTogether(std::initializer_list<HttpServer*> servers, absl::Duration grace);

}  // namespace cloudillo::http
