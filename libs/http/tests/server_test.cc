#include "cloudillo/http/server.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "cloudillo/http/ops.h"

namespace cloudillo::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Sends raw bytes, returns the raw answer (until the server closes or 1 s passes).
std::string RawExchange(int port, const std::string& bytes) {
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  boost::asio::write(s, boost::asio::buffer(bytes));
  s.shutdown(tcp::socket::shutdown_send);
  std::string out;
  char buf[4096];
  beast::error_code ec;
  for (;;) {
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

ServerOptions EchoOptions() {
  ServerOptions o;
  o.address = "127.0.0.1";
  o.threads = 2;
  o.body_limit = [](const Request& r) { return r.path == "/big" ? size_t(1000) : size_t(10); };
  o.handler = [](const Request& r) {
    Response res;
    res.Set("X-Path", r.path);
    res.body = r.method + " " + r.path + " " + r.query + " " + r.body + " " + r.Header("x-test");
    return res;
  };
  o.on_bad_request = [](int status, const std::string& reason) {
    return Response{status,
                    {{"Content-Type", "application/json"}, {"X-Reason", reason}},
                    "{\"error\":\"" + std::to_string(status) + "\"}"};
  };
  return o;
}

TEST(HttpServer, ServesRequestsWithKeepAlive) {
  auto server = HttpServer::Start(EchoOptions());
  ASSERT_TRUE(server.ok()) << server.status();
  std::string out =
      RawExchange((*server)->port(),
                  "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Test: t1\r\n\r\n"
                  "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_NE(out.find("GET /a x=1  t1"), std::string::npos) << out;
  EXPECT_NE(out.find("POST /b  hello"), std::string::npos) << out;
  (*server)->Stop(absl::Seconds(1));
}

TEST(HttpServer, DeclaredBodyOverLimitIs413BeforeReading) {
  auto server = HttpServer::Start(EchoOptions());
  ASSERT_TRUE(server.ok());
  std::string out =
      RawExchange((*server)->port(), "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nabc");
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
  EXPECT_NE(out.find("{\"error\":\"413\"}"), std::string::npos);
  // A declared length beyond any route's limit is refused while parsing the head.
  out = RawExchange((*server)->port(),
                    "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
  // Per-route limit: /big allows 1000.
  out = RawExchange((*server)->port(),
                    "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n01234567890123456789");
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
}

TEST(HttpServer, ChunkedBodyOverLimitIs413) {
  auto server = HttpServer::Start(EchoOptions());
  ASSERT_TRUE(server.ok());
  std::string out = RawExchange((*server)->port(),
                                "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "20\r\n0123456789012345678901234567890X\r\n0\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
}

TEST(HttpServer, HostileRequestsGetErrorsNotCrashes) {
  auto server = HttpServer::Start(EchoOptions());
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  EXPECT_EQ(RawExchange(port, "GARBAGE\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(RawExchange(port, "GET / HTTP/9.9\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(RawExchange(port, "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n")
                .rfind("HTTP/1.1 431", 0),
            0u);
  EXPECT_EQ(RawExchange(port, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(RawExchange(port, "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
                .rfind("HTTP/1.1 400", 0),
            0u);
  EXPECT_EQ(RawExchange(port, ""), "");  // connect and close: nothing sent back
  // Still serving afterwards.
  EXPECT_EQ(RawExchange(port, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(HttpServer, WebSocketUpgradeEcho) {
  ServerOptions o = EchoOptions();
  o.websocket_check = [](const Request& r) {
    return r.path == "/ws/echo" ? Response{101, {}, ""} : Response{404, {}, "no such socket"};
  };
  o.websocket_accepted = [](const Request&, std::shared_ptr<WebSocket> ws) {
    std::weak_ptr<WebSocket> weak = ws;
    ws->on_message = [weak](const std::string& m, bool binary) {
      if (auto s = weak.lock()) {
        if (m == "close")
          s->Close(4403, "denied");
        else
          s->Send("echo:" + m, binary);
      }
    };
  };
  auto server = HttpServer::Start(o);
  ASSERT_TRUE(server.ok());
  boost::asio::io_context ioc;
  beast::websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>((*server)->port())});
  ws.handshake("h", "/ws/echo");
  ws.binary(true);
  ws.write(boost::asio::buffer(std::string("\x00\x01", 2)));
  beast::flat_buffer buf;
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), std::string("echo:\x00\x01", 7));
  EXPECT_TRUE(ws.got_binary());
  ws.write(boost::asio::buffer(std::string("close")));
  buf.clear();
  beast::error_code ec;
  ws.read(buf, ec);
  EXPECT_EQ(ec, beast::websocket::error::closed);
  EXPECT_EQ(ws.reason().code, 4403);

  // A refused upgrade gets the check's HTTP answer.
  std::string out =
      RawExchange((*server)->port(),
                  "GET /ws/other HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 404", 0), 0u) << out;
}

TEST(OpsServer, MetricsHealthReady) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("test_total").Help("t").Register(*registry).Add({}).Increment();
  bool ready = false;
  auto ops =
      StartOpsServer({"127.0.0.1", 0, registry, [&] {
                        return ready ? absl::OkStatus() : absl::UnavailableError("postgres unreachable");
                      }});
  ASSERT_TRUE(ops.ok());
  int port = (*ops)->port();
  EXPECT_NE(RawExchange(port, "GET /metrics HTTP/1.1\r\n\r\n").find("test_total 1"), std::string::npos);
  EXPECT_EQ(RawExchange(port, "GET /healthz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  std::string r = RawExchange(port, "GET /readyz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u);
  EXPECT_NE(r.find("postgres unreachable"), std::string::npos);
  ready = true;
  EXPECT_EQ(RawExchange(port, "GET /readyz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
}

}  // namespace
}  // namespace cloudillo::http
