// The pieces of the server that are templated on the stream type (plain TCP or TLS):
// the HTTP session, the exchange handed to handlers, and the WebSocket session.
// Internal to libs/http.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cloudillo/http/server.h"

namespace cloudillo::http::internal {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// A live connection the server may have to close when it stops.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection unless it is in the middle of a request.
  virtual void CloseIfIdle() = 0;
  // Last call before the threads stop: close whatever state it is in.
  virtual void CloseNow() = 0;
};

// What sessions need from the server; implemented by ServerImpl.
class ServerContext {
 public:
  virtual ~ServerContext() = default;
  virtual const ServerOptions& options() const = 0;
  virtual bool stopping() const = 0;
  virtual void RequestStarted() = 0;
  virtual void RequestFinished() = 0;
  virtual uint64_t Register(std::weak_ptr<Connection> c) = 0;
  virtual void Unregister(uint64_t id) = 0;
};

// Held by whichever session owns a socket; counts open connections.
struct ConnectionSlot {
  explicit ConnectionSlot(std::atomic<int64_t>& n) : count(n) { ++count; }
  ~ConnectionSlot() { --count; }
  std::atomic<int64_t>& count;
};

// Runs `fn`, turning an escaped exception into a log line and `on_throw()`.
void CallGuarded(const char* where, const std::function<void()>& fn, const std::function<void()>& on_throw);

template <class Stream>
std::shared_ptr<WebSocket> AcceptWebSocketOn(Stream&& stream, bhttp::request<bhttp::empty_body> req,
                                             ServerContext* server, std::shared_ptr<ConnectionSlot> slot,
                                             const WebSocketOptions& options,
                                             std::function<void(std::shared_ptr<WebSocket>)> accepted);

// Starts serving one accepted connection.
void ServePlain(ServerContext* server, tcp::socket socket, std::string ip,
                std::shared_ptr<ConnectionSlot> slot);
void ServeTls(ServerContext* server, tcp::socket socket, ssl::context& ctx, std::string ip,
              std::shared_ptr<ConnectionSlot> slot);

}  // namespace cloudillo::http::internal
