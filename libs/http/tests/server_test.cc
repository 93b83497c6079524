#include "cloudillo/http/server.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <thread>

#include "cloudillo/http/ops.h"

namespace cloudillo::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Sends raw bytes, returns the raw answer (until the server closes or `wait` passes).
std::string RawExchange(int port, const std::string& bytes, bool half_close = true,
                        std::chrono::milliseconds wait = std::chrono::milliseconds(3000)) {
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  beast::error_code ignored;
  boost::asio::write(s, boost::asio::buffer(bytes), ignored);
  if (half_close) s.shutdown(tcp::socket::shutdown_send, ignored);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + wait;
  s.non_blocking(true);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    beast::error_code ec;
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec == boost::asio::error::would_block) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

ServerOptions EchoOptions() {
  ServerOptions o;
  o.address = "127.0.0.1";
  o.threads = 2;
  o.body_plan = [](const Request& r) {
    if (r.path == "/stream") return BodyPlan{4096, true};
    if (r.path == "/refuse") return BodyPlan{size_t(16) << 20, true};
    return BodyPlan{r.path == "/big" ? size_t(1000) : size_t(10), false};
  };
  o.handler = [](std::shared_ptr<Exchange> ex) {
    const Request& r = ex->request();
    if (r.path == "/throw") throw std::runtime_error("boom");
    if (r.path == "/post-throw") return ex->Post([] { throw std::logic_error("later boom"); });
    if (r.path == "/drop") return;                                   // no answer at all
    if (r.path == "/refuse") return ex->Respond({507, {}, "full"});  // before reading the body
    if (r.path == "/slow") {
      return ex->PostAfter(absl::Milliseconds(300), [ex] { ex->Respond({200, {}, "slow"}); });
    }
    if (r.path == "/thread") {
      std::thread([ex] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ex->Respond({200, {}, "from another thread"});
      }).detach();
      return;
    }
    if (r.path == "/stream") {
      auto total = std::make_shared<size_t>(0);
      auto next = std::make_shared<std::function<void(absl::StatusOr<std::string>)>>();
      *next = [ex, total, next](absl::StatusOr<std::string> chunk) {
        if (!chunk.ok()) {
          int status = chunk.status().code() == absl::StatusCode::kResourceExhausted ? 413 : 400;
          *next = nullptr;
          return ex->Respond({status, {}, std::string(chunk.status().message())});
        }
        if (chunk->empty()) {
          *next = nullptr;
          return ex->Respond({200, {}, "streamed " + std::to_string(*total)});
        }
        *total += chunk->size();
        ex->ReadBody(*next);
      };
      return ex->ReadBody(*next);
    }
    if (r.path == "/shared") {  // one buffer for every answer, as a cached file
      static const auto kShared = std::make_shared<const std::string>(100000, 's');
      Response res;
      res.shared_body = kShared;
      return ex->Respond(std::move(res));
    }
    if (r.path == "/framing") {  // what a handler may get wrong, and what it may ask
      Response res;
      res.status = r.query == "304" ? 304 : 200;
      res.Set("Content-Length", "999");                   // not the body's: replaced
      res.Set("X-Split", "a\r\nSet-Cookie: injected=1");  // would end the line: dropped
      res.Set("X-Fine", "kept");
      if (r.query == "close") res.Set("Connection", "close");
      res.body = res.status == 304 ? "" : "framed";
      return ex->Respond(std::move(res));
    }
    if (r.path == "/download") {
      bool sized = r.query == "sized";
      ex->StartResponse({200, {{"Content-Type", "text/plain"}}, ""},
                        sized ? std::optional<uint64_t>(9) : std::nullopt);
      ex->WriteBody("abc", [ex](absl::Status st) {
        if (!st.ok()) return ex->Abort();
        ex->WriteBody("def", [ex](absl::Status) {
          ex->WriteBody("ghi", [ex](absl::Status) { ex->FinishResponse(); });
        });
      });
      return;
    }
    Response res;
    res.Set("X-Path", r.path);
    res.body = r.method + " " + r.path + " " + r.query + " " + r.body + " " + r.Header("x-test");
    ex->Respond(std::move(res));
  };
  o.on_bad_request = [](int status, const std::string& reason) {
    return Response{status,
                    {{"Content-Type", "application/json"}, {"X-Reason", reason}},
                    "{\"error\":\"" + std::to_string(status) + "\"}"};
  };
  o.on_internal_error = [] { return Response{500, {}, "{\"error\":\"internal\"}"}; };
  return o;
}

std::unique_ptr<HttpServer> StartEcho(ServerOptions o = EchoOptions()) {
  auto server = HttpServer::Start(std::move(o));
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(*server);
}

TEST(HttpServer, ServesRequestsWithKeepAlive) {
  auto server = StartEcho();
  std::string out =
      RawExchange(server->port(),
                  "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Test: t1\r\n\r\n"
                  "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_NE(out.find("GET /a x=1  t1"), std::string::npos) << out;
  EXPECT_NE(out.find("POST /b  hello"), std::string::npos) << out;
  server->Stop(absl::Seconds(1));
}

TEST(HttpServer, DeclaredBodyOverLimitIs413BeforeReading) {
  auto server = StartEcho();
  std::string out =
      RawExchange(server->port(), "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nabc");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 413")) << out;
  EXPECT_NE(out.find("{\"error\":\"413\"}"), std::string::npos);
  // A declared length beyond any route's limit is refused while parsing the head.
  out = RawExchange(server->port(), "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 413")) << out;
  // Per-route limit: /big allows 1000.
  out = RawExchange(server->port(),
                    "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n01234567890123456789");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 200")) << out;
}

TEST(HttpServer, ChunkedBodyOverLimitIs413) {
  auto server = StartEcho();
  std::string out = RawExchange(server->port(),
                                "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "20\r\n0123456789012345678901234567890X\r\n0\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 413")) << out;
}

TEST(HttpServer, HostileRequestsGetErrorsNotCrashes) {
  auto server = StartEcho();
  int port = server->port();
  EXPECT_TRUE(StartsWith(RawExchange(port, "GARBAGE\r\n\r\n"), "HTTP/1.1 400"));
  EXPECT_TRUE(StartsWith(RawExchange(port, "GET / HTTP/9.9\r\nHost: h\r\n\r\n"), "HTTP/1.1 400"));
  EXPECT_TRUE(
      StartsWith(RawExchange(port, "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(20000, 'a') + "\r\n\r\n"),
                 "HTTP/1.1 431"));
  EXPECT_TRUE(StartsWith(RawExchange(port, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"),
                         "HTTP/1.1 400"));
  EXPECT_TRUE(StartsWith(
      RawExchange(port, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
      "HTTP/1.1 400"));
  EXPECT_EQ(RawExchange(port, ""), "");  // connect and close: nothing sent back
  // Still serving afterwards.
  EXPECT_TRUE(StartsWith(RawExchange(port, "GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
                         "HTTP/1.1 200"));
}

// RFC 9112 framing: each of these is refused and the connection closed, so nothing
// smuggled behind it is ever served.
TEST(HttpServer, AmbiguousFramingIsRefusedAndTheConnectionClosed) {
  auto server = StartEcho();
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"no Host", "GET / HTTP/1.1\r\n\r\n"},
      {"unknown transfer coding",
       "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
      {"gzip then chunked",
       "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"repeated Transfer-Encoding",
       "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding with Content-Length",
       "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"obsolete line folding", "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n"},
      {"folding with a tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n"},
      {"HTTP/1.0 with Transfer-Encoding",
       "POST /big HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
  };
  for (const auto& [name, bytes] : cases) {
    std::string out = RawExchange(server->port(), bytes + smuggled);
    EXPECT_TRUE(StartsWith(out, "HTTP/1.1 400")) << name << ": " << out;
    EXPECT_EQ(out.find("smuggled"), std::string::npos) << name << ": " << out;
    EXPECT_EQ(Count(out, "HTTP/1.1 "), 1u) << name << ": " << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos) << name;
  }
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 1000; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  EXPECT_TRUE(StartsWith(RawExchange(server->port(), many + "\r\n"), "HTTP/1.1 431"));
  // A plain chunked body is fine.
  EXPECT_TRUE(StartsWith(RawExchange(server->port(),
                                     "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                                     "5\r\nhello\r\n0\r\n\r\n"),
                         "HTTP/1.1 200"));
}

TEST(HttpServer, AnswersArriveFromTimersAndOtherThreadsWithoutHoldingAThread) {
  ServerOptions o = EchoOptions();
  o.threads = 1;
  auto server = StartEcho(o);
  // 50 requests each waiting 300 ms on a timer would need 50 threads if handlers
  // blocked; with one I/O thread a fast request must still be answered at once.
  std::vector<std::future<std::string>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::async(std::launch::async, [&] {
      return RawExchange(server->port(), "GET /slow HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto start = std::chrono::steady_clock::now();
  std::string fast =
      RawExchange(server->port(), "GET /fast HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(StartsWith(fast, "HTTP/1.1 200")) << fast;
  EXPECT_LT(took, std::chrono::milliseconds(150));
  for (auto& f : slow) EXPECT_NE(f.get().find("slow"), std::string::npos);
  std::string t = RawExchange(server->port(), "GET /thread HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_NE(t.find("from another thread"), std::string::npos) << t;
}

TEST(HttpServer, ExceptionsBecome500AndTheProcessLives) {
  auto server = StartEcho();
  std::string out = RawExchange(server->port(), "GET /throw HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 500")) << out;
  EXPECT_NE(out.find("internal"), std::string::npos);
  out = RawExchange(server->port(), "GET /post-throw HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 500")) << out;
  // An exchange dropped without an answer closes its connection.
  EXPECT_EQ(RawExchange(server->port(), "GET /drop HTTP/1.1\r\nHost: h\r\n\r\n", false), "");
  EXPECT_EQ(server->in_flight(), 0);
  EXPECT_TRUE(StartsWith(RawExchange(server->port(), "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"), "HTTP/1.1 200"));
}

TEST(HttpServer, StreamsRequestBodies) {
  auto server = StartEcho();
  std::string body(3000, 'x');
  std::string out =
      RawExchange(server->port(), "POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n" + body);
  EXPECT_NE(out.find("streamed 3000"), std::string::npos) << out;
  std::string chunked = "POST /stream HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked += "64\r\n" + std::string(100, 'y') + "\r\n";
  out = RawExchange(server->port(), chunked + "0\r\n\r\n");
  EXPECT_NE(out.find("streamed 1000"), std::string::npos) << out;
  // Past the route's limit in a chunked body: the handler learns it mid-stream.
  std::string huge = "POST /stream HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 50; ++i) huge += "64\r\n" + std::string(100, 'z') + "\r\n";
  out = RawExchange(server->port(), huge + "0\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 413")) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
}

// An answer given before the body is read (a quota's 507) must reach a client that is
// still sending: the server stops writing, discards input for a while, then closes.
TEST(HttpServer, AnAnswerBeforeTheBodyReachesAClientStillSending) {
  auto server = StartEcho();
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server->port())});
  std::string head = "POST /refuse HTTP/1.1\r\nHost: h\r\nContent-Length: 16000000\r\n\r\n";
  boost::asio::write(s, boost::asio::buffer(head));
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 507);
  EXPECT_EQ(res.body(), "full");
  EXPECT_FALSE(res.keep_alive());
  // The body still goes out after the answer has arrived, without a reset...
  const std::string mib(1 << 20, 'x');
  beast::error_code ec;
  for (int i = 0; i < 4 && !ec; ++i) boost::asio::write(s, boost::asio::buffer(mib), ec);
  EXPECT_FALSE(ec) << ec.message();
  // ...and the server closes within its lingering time even if the client never stops.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 15 && !ec; ++i) {
    boost::asio::write(s, boost::asio::buffer(mib), ec);
    if (!ec) std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  EXPECT_TRUE(ec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  server->Stop(absl::Seconds(1));
}

TEST(HttpServer, StreamsResponses) {
  auto server = StartEcho();
  std::string out =
      RawExchange(server->port(), "GET /download HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("Transfer-Encoding: chunked"), std::string::npos) << out;
  EXPECT_NE(out.find("3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n0\r\n\r\n"), std::string::npos) << out;
  out = RawExchange(server->port(), "GET /download?sized HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("Content-Length: 9"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\n\r\nabcdefghi"), std::string::npos) << out;
  // Keep-alive continues after a streamed answer.
  out = RawExchange(server->port(),
                    "GET /download?sized HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_NE(out.find("GET /after"), std::string::npos) << out;
}

TEST(HttpServer, HeadAnswersCarryTheLengthButNoBody) {
  auto server = StartEcho();
  std::string out = RawExchange(server->port(),
                                "HEAD /abc HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 200")) << out;
  EXPECT_NE(out.find("Content-Length: 12"), std::string::npos) << out;  // "HEAD /abc   "
  EXPECT_EQ(out.find("HEAD /abc "), std::string::npos) << out;
  EXPECT_NE(out.find("GET /next"), std::string::npos) << out;
}

// A shared body goes out whole to every client, HEAD gets its length only, and the
// connection stays usable after it.
TEST(HttpServer, SharedBodiesAreSentWholeAndHeadGetsTheirLength) {
  auto server = StartEcho();
  std::string out = RawExchange(server->port(),
                                "GET /shared HTTP/1.1\r\nHost: h\r\n\r\n"
                                "HEAD /shared HTTP/1.1\r\nHost: h\r\n\r\n"
                                "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 200")) << out.substr(0, 200);
  size_t first = out.find("\r\n\r\n");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(out.substr(first + 4, 100000), std::string(100000, 's'));
  std::string rest = out.substr(first + 4 + 100000);
  EXPECT_TRUE(StartsWith(rest, "HTTP/1.1 200")) << rest.substr(0, 200);
  EXPECT_NE(rest.find("Content-Length: 100000"), std::string::npos) << rest;
  size_t head_end = rest.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_TRUE(StartsWith(rest.substr(head_end + 4), "HTTP/1.1 200")) << rest;  // no body after HEAD
  EXPECT_NE(rest.find("GET /next"), std::string::npos);
  server->Stop(absl::Seconds(1));
}

// Complete answers are framed by the server (http_session.cc WriteResponse): the
// body's own length, no length and no body for 304, no header line a value could
// split, the handler's Connection: close honoured, HTTP/1.0 kept alive on request.
TEST(HttpServer, CompleteAnswersAreFramedByTheServer) {
  auto server = StartEcho();
  std::string out = RawExchange(server->port(),
                                "GET /framing HTTP/1.1\r\nHost: h\r\n\r\n"
                                "GET /framing?304 HTTP/1.1\r\nHost: h\r\n\r\n"
                                "GET /framing?close HTTP/1.1\r\nHost: h\r\n\r\n"
                                "GET /never HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(Count(out, "HTTP/1.1 "), 3u) << out;  // the fourth request is never read
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 200 OK\r\n")) << out;
  EXPECT_EQ(Count(out, "Content-Length: 6\r\n"), 2u) << out;
  EXPECT_EQ(out.find("999"), std::string::npos) << out;
  EXPECT_EQ(out.find("injected"), std::string::npos) << out;
  EXPECT_EQ(Count(out, "X-Fine: kept\r\n"), 3u) << out;
  size_t not_modified = out.find("HTTP/1.1 304 Not Modified\r\n");
  ASSERT_NE(not_modified, std::string::npos) << out;
  size_t third = out.find("HTTP/1.1 200", not_modified);
  ASSERT_NE(third, std::string::npos) << out;
  std::string answer304 = out.substr(not_modified, third - not_modified);
  EXPECT_EQ(answer304.find("Content-Length"), std::string::npos) << answer304;
  EXPECT_TRUE(answer304.size() >= 4 && answer304.substr(answer304.size() - 4) == "\r\n\r\n") << answer304;
  EXPECT_NE(out.substr(third).find("Connection: close\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("/never"), std::string::npos) << out;

  std::string old = RawExchange(server->port(),
                                "GET /framing HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
                                "GET /framing HTTP/1.0\r\nHost: h\r\n\r\n");
  EXPECT_EQ(Count(old, "HTTP/1.0 200 OK\r\n"), 2u) << old;
  EXPECT_EQ(Count(old, "Connection: keep-alive\r\n"), 1u) << old;
  server->Stop(absl::Seconds(1));
}

TEST(HttpServer, ExpectContinueIsAnswered) {
  auto server = StartEcho();
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server->port())});
  boost::asio::write(
      s, boost::asio::buffer(std::string(
             "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")));
  char buf[256];
  size_t n = s.read_some(boost::asio::buffer(buf));
  EXPECT_TRUE(StartsWith(std::string(buf, n), "HTTP/1.1 100 Continue")) << std::string(buf, n);
  boost::asio::write(s, boost::asio::buffer(std::string("body")));
  n = s.read_some(boost::asio::buffer(buf));
  EXPECT_NE(std::string(buf, n).find("POST /big  body"), std::string::npos) << std::string(buf, n);
}

TEST(HttpServer, ConnectionsBeyondTheLimitAreClosed) {
  ServerOptions o = EchoOptions();
  o.max_connections = 2;
  auto server = StartEcho(o);
  boost::asio::io_context ioc;
  std::vector<tcp::socket> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(ioc);
    held.back().connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server->port())});
  }
  for (int i = 0; i < 100 && server->connections() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(server->connections(), 2);
  EXPECT_EQ(RawExchange(server->port(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), "");
  held.clear();
  for (int i = 0; i < 200 && server->connections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(StartsWith(RawExchange(server->port(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), "HTTP/1.1 200"));
}

TEST(HttpServer, StopClosesIdleConnectionsAndLetsRequestsFinish) {
  auto server = StartEcho();
  boost::asio::io_context ioc;
  tcp::socket idle(ioc);
  idle.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server->port())});
  auto slow = std::async(std::launch::async, [&] {
    return RawExchange(server->port(), "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n", false);
  });
  for (int i = 0; i < 100 && server->in_flight() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(server->in_flight(), 1);
  server->StopAccepting();
  char buf[16];
  beast::error_code ec;
  idle.read_some(boost::asio::buffer(buf), ec);  // the idle connection is closed by the server
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) << ec.message();
  EXPECT_TRUE(server->AwaitIdle(absl::Now() + absl::Seconds(2)));
  std::string out = slow.get();
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 200")) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  server->Stop(absl::Seconds(1));
}

// A client socket on 127.0.0.1:`port`, upgraded on `path`.
beast::websocket::stream<tcp::socket> UpgradedClient(boost::asio::io_context& ioc, int port,
                                                     const char* path) {
  beast::websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  ws.handshake("h", path);
  return ws;
}

// Answers every message on `ws` with reply(message) until a read fails, then counts the
// failure in `read_failures`.
void ReplyToEach(std::shared_ptr<WebSocket> ws, std::function<std::string(const WsMessage&)> reply,
                 std::atomic<int>* read_failures) {
  auto loop = std::make_shared<std::function<void()>>();
  *loop = [ws, loop, reply, read_failures] {
    ws->Read([ws, loop, reply, read_failures](absl::StatusOr<WsMessage> m) {
      if (!m.ok()) {
        ++*read_failures;
        *loop = nullptr;
        return;
      }
      ws->Write({reply(*m), false}, [loop](absl::Status st) {
        if (st.ok()) (*loop)();
      });
    });
  };
  (*loop)();
}

// The server closed `ws` with 1009 (too big), and its own pending read failed once.
void ExpectClosedTooBig(beast::websocket::stream<tcp::socket>& ws, beast::flat_buffer& buf,
                        const std::atomic<int>& read_failures) {
  beast::error_code ec;
  ws.read(buf, ec);
  EXPECT_EQ(ec, beast::websocket::error::closed) << ec.message();
  EXPECT_EQ(ws.reason().code, beast::websocket::close_code::too_big);
  for (int i = 0; i < 100 && read_failures == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(read_failures.load(), 1);
}

TEST(HttpServer, WebSocketUpgradeEcho) {
  ServerOptions o = EchoOptions();
  o.handler = [](std::shared_ptr<Exchange> ex) {
    if (!ex->request().websocket_upgrade || ex->request().path != "/ws/echo") {
      return ex->Respond({404, {}, "no such socket"});
    }
    ex->AcceptWebSocket([](std::shared_ptr<WebSocket> ws) {
      auto loop = std::make_shared<std::function<void()>>();
      *loop = [ws, loop] {
        ws->Read([ws, loop](absl::StatusOr<WsMessage> m) {
          if (!m.ok()) {
            *loop = nullptr;
            return;
          }
          if (m->data == "close") return ws->Close(4403, "denied");
          ws->Write({"echo:" + m->data, m->binary}, [loop](absl::Status st) {
            if (st.ok()) (*loop)();
          });
        });
      };
      (*loop)();
    });
  };
  auto server = StartEcho(o);
  boost::asio::io_context ioc;
  auto ws = UpgradedClient(ioc, server->port(), "/ws/echo");
  ws.binary(true);
  ws.write(boost::asio::buffer(std::string("\x00\x01", 2)));
  beast::flat_buffer buf;
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), std::string("echo:\x00\x01", 7));
  EXPECT_TRUE(ws.got_binary());
  ws.binary(false);
  ws.write(boost::asio::buffer(std::string("close")));
  buf.clear();
  beast::error_code ec;
  ws.read(buf, ec);
  EXPECT_EQ(ec, beast::websocket::error::closed);
  EXPECT_EQ(ws.reason().code, 4403);

  // A refused upgrade gets the handler's HTTP answer.
  std::string out =
      RawExchange(server->port(),
                  "GET /ws/other HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_TRUE(StartsWith(out, "HTTP/1.1 404")) << out;
}

// A route's own message limit, below the server's.
TEST(HttpServer, WebSocketMessageLimitPerSocket) {
  ServerOptions o = EchoOptions();
  std::atomic<int> read_failures{0};
  o.handler = [&](std::shared_ptr<Exchange> ex) {
    ex->AcceptWebSocket(WebSocketOptions{16}, [&](std::shared_ptr<WebSocket> ws) {
      ReplyToEach(
          ws, [](const WsMessage& m) { return "ok:" + m.data; }, &read_failures);
    });
  };
  auto server = StartEcho(o);
  boost::asio::io_context ioc;
  auto ws = UpgradedClient(ioc, server->port(), "/ws/limited");
  ws.write(boost::asio::buffer(std::string(16, 'a')));  // at the limit: fine
  beast::flat_buffer buf;
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), "ok:" + std::string(16, 'a'));
  ws.write(boost::asio::buffer(std::string(17, 'b')));  // over it: closed with 1009
  buf.clear();
  ExpectClosedTooBig(ws, buf, read_failures);
  server->Stop(absl::Seconds(1));
}

// A client that never sends: how many pings arrive, up to the third, within `wait`.
int PingsSeenByAQuietClient(ServerOptions o, WebSocketOptions socket,
                            std::chrono::milliseconds wait = std::chrono::seconds(3)) {
  o.handler = [socket](std::shared_ptr<Exchange> ex) {
    ex->AcceptWebSocket(socket, [](std::shared_ptr<WebSocket> ws) {
      ws->Read([ws](absl::StatusOr<WsMessage>) {});  // reads once, keeps the socket
    });
  };
  auto server = StartEcho(o);
  boost::asio::io_context ioc;
  auto ws = UpgradedClient(ioc, server->port(), "/ws/quiet");
  int pings = 0;
  boost::asio::steady_timer give_up(ioc, wait);
  give_up.async_wait([&](beast::error_code ec) {
    if (!ec) ioc.stop();
  });
  ws.control_callback([&](beast::websocket::frame_type kind, beast::string_view) {
    if (kind != beast::websocket::frame_type::ping || ++pings != 3) return;
    give_up.cancel();
    ws.async_close({}, [](beast::error_code) {});
  });
  // The read answers each ping with a pong (so the peer stays), until the third.
  beast::flat_buffer buf;
  ws.async_read(buf, [](beast::error_code, size_t) {});
  ioc.run();
  server->Stop(absl::Seconds(1));
  return pings;
}

TEST(HttpServer, WebSocketPingsAQuietPeer) {
  ServerOptions o = EchoOptions();
  o.websocket_ping_interval = absl::Milliseconds(100);
  EXPECT_GE(PingsSeenByAQuietClient(o, {}), 3);
}

// A route's own interval (live documents ping every 15 s, the server's default is 30 s).
TEST(HttpServer, WebSocketPingIntervalPerSocket) {
  ServerOptions o = EchoOptions();
  o.websocket_ping_interval = absl::Seconds(60);
  EXPECT_EQ(PingsSeenByAQuietClient(o, {}, std::chrono::milliseconds(700)), 0);
  WebSocketOptions fast;
  fast.ping_interval = absl::Milliseconds(100);
  EXPECT_GE(PingsSeenByAQuietClient(o, fast), 3);
}

// Frames are capped apart from messages (PROTOCOL §10: 4 MiB and 16 MiB): a message in
// small frames may exceed the frame cap, one frame beyond it closes with 1009.
TEST(HttpServer, WebSocketFrameLimit) {
  ServerOptions o = EchoOptions();
  o.websocket_frame_limit = 32;
  o.websocket_message_limit = 100;
  std::atomic<int> read_failures{0};
  o.handler = [&](std::shared_ptr<Exchange> ex) {
    ex->AcceptWebSocket([&](std::shared_ptr<WebSocket> ws) {
      ReplyToEach(
          ws, [](const WsMessage& m) { return "ok:" + std::to_string(m.data.size()); }, &read_failures);
    });
  };
  auto server = StartEcho(o);
  boost::asio::io_context ioc;
  auto ws = UpgradedClient(ioc, server->port(), "/ws/frames");
  auto send_in_frames = [&](size_t total, size_t frame) {
    for (size_t sent = 0; sent < total; sent += frame) {
      size_t n = std::min(frame, total - sent);
      ws.write_some(sent + n == total, boost::asio::buffer(std::string(n, 'f')));
    }
  };
  beast::flat_buffer buf;
  send_in_frames(96, 32);  // three frames at the cap, a message under its limit
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), "ok:96");
  buf.clear();
  send_in_frames(32, 32);  // one frame at the cap
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), "ok:32");
  buf.clear();
  send_in_frames(64, 20);  // the last of four frames is 4 bytes: all within the caps
  ws.read(buf);
  EXPECT_EQ(beast::buffers_to_string(buf.data()), "ok:64");
  buf.clear();
  // 40 bytes of a message read, then a frame over the cap (the message would fit):
  ws.write_some(false, boost::asio::buffer(std::string(20, 'x')));
  ws.write_some(false, boost::asio::buffer(std::string(20, 'x')));
  ws.write_some(true, boost::asio::buffer(std::string(33, 'x')));
  ExpectClosedTooBig(ws, buf, read_failures);
  server->Stop(absl::Seconds(1));
}

TEST(OpsServer, MetricsHealthReady) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("test_total").Help("t").Register(*registry).Add({}).Increment();
  std::atomic<bool> ready{false};
  auto ops = StartOpsServer({"127.0.0.1", 0, registry,
                             [&] { return ready ? absl::OkStatus() : absl::UnavailableError("draining"); }});
  ASSERT_TRUE(ops.ok());
  int port = (*ops)->port();
  EXPECT_NE(RawExchange(port, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n").find("test_total 1"),
            std::string::npos);
  EXPECT_TRUE(StartsWith(RawExchange(port, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"), "HTTP/1.1 200"));
  std::string r = RawExchange(port, "GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(StartsWith(r, "HTTP/1.1 503"));
  EXPECT_NE(r.find("draining"), std::string::npos);
  ready = true;
  EXPECT_TRUE(StartsWith(RawExchange(port, "GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n"), "HTTP/1.1 200"));
}

}  // namespace
}  // namespace cloudillo::http
