#include "cloudillo/federation/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/beast/http/field.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cloudillo/testing/status_matchers.h"
#include "test_server.h"

namespace cloudillo::federation {
namespace {

using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;
using testing::HttpRequest;
using testing::HttpResponse;
using testing::Reply;
using testing::TestServer;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

std::shared_ptr<Client> MakeClient(const std::string& map, absl::Duration timeout = absl::Seconds(5),
                                   size_t max_body = 1 << 20, std::string ca_file = "") {
  ClientConfig c;
  c.federation_map = map;
  c.timeout = timeout;
  c.max_body = max_body;
  c.ca_file = std::move(ca_file);
  auto client = Client::Create(c);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *client : nullptr;
}

std::string MapTo(const TestServer& server, const std::string& host = "cl-o.bob.test",
                  const char* scheme = "http") {
  return absl::StrCat(host, "=", scheme, "://127.0.0.1:", server.port());
}

TEST(Client, GetSendsApiHostWithoutPortAndReadsReply) {
  std::string seen_host, seen_target, seen_auth;
  TestServer server([&](const HttpRequest& req) {
    seen_host = std::string(req[http::field::host]);
    seen_target = std::string(req.target());
    seen_auth = std::string(req[http::field::authorization]);
    HttpResponse res = Reply(200, R"({"data":{}})");
    res.set("X-Test", "yes");
    return res;
  });
  auto client = MakeClient(MapTo(server));
  auto r = client->Get("bob.test", "/api/me?x=1", {{"Authorization", "Bearer t"}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"data":{}})");
  EXPECT_EQ(r->headers.at("x-test"), "yes");
  EXPECT_EQ(r->headers.at("content-type"), "application/json");
  EXPECT_EQ(seen_host, "cl-o.bob.test");  // E17: no port, even when mapped
  EXPECT_EQ(seen_target, "/api/me?x=1");
  EXPECT_EQ(seen_auth, "Bearer t");
}

TEST(Client, PostJsonSendsBodyAndAnyStatusIsAResponse) {
  std::string seen_body, seen_type;
  TestServer server([&](const HttpRequest& req) {
    seen_body = req.body();
    seen_type = std::string(req[http::field::content_type]);
    return Reply(422, R"({"error":{}})");
  });
  auto client = MakeClient(MapTo(server));
  auto r = client->PostJson("bob.test", "/api/inbox", R"({"token":"x"})");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(seen_body, R"({"token":"x"})");
  EXPECT_EQ(seen_type, "application/json");
}

TEST(Client, ReusesKeepAliveConnections) {
  TestServer server([](const HttpRequest&) { return Reply(200, "{}"); });
  auto client = MakeClient(MapTo(server));
  for (int i = 0; i < 5; ++i) ASSERT_THAT(client->Get("bob.test", "/api/me"), IsOk());
  EXPECT_EQ(server.requests(), 5);
  EXPECT_EQ(server.connections(), 1);
}

TEST(Client, DoesNotReuseAfterConnectionClose) {
  TestServer server([](const HttpRequest&) {
    HttpResponse res = Reply(200, "{}");
    res.keep_alive(false);
    return res;
  });
  auto client = MakeClient(MapTo(server));
  for (int i = 0; i < 3; ++i) ASSERT_THAT(client->Get("bob.test", "/api/me"), IsOk());
  EXPECT_EQ(server.connections(), 3);
}

TEST(Client, PeerClosingAnIdleConnectionIsNotAnError) {
  // Answers keep-alive, then closes anyway: the pooled socket is dead on next use.
  TestServer server(TestServer::RawHandler([](tcp::socket& s) {
    if (testing::ReadHead(s)) testing::WriteAll(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  }));
  auto client = MakeClient(MapTo(server));
  for (int i = 0; i < 3; ++i) {
    auto r = client->Get("bob.test", "/api/me");
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->body, "ok");
  }
}

TEST(Client, ConcurrentRequestsShareThePool) {
  TestServer server([](const HttpRequest& req) { return Reply(200, std::string(req.target())); });
  auto client = MakeClient(MapTo(server));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string path = absl::StrCat("/api/x/", t, "/", i);
        auto r = client->Get("bob.test", path);
        if (r.ok() && r->body == path) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_LE(server.connections(), 8 + 8);  // at most one per thread at a time, plus replacements
}

TEST(Client, ServerThatNeverAnswersHitsTheDeadline) {
  TestServer server(TestServer::RawHandler([](tcp::socket& s) { testing::DrainUntilClosed(s); }));
  auto client = MakeClient(MapTo(server), absl::Milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(client->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kDeadlineExceeded));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(Client, SlowBodyHitsTheSameDeadline) {
  // The deadline covers the whole body, not each read.
  TestServer server(TestServer::RawHandler([](tcp::socket& s) {
    if (!testing::ReadHead(s)) return;
    testing::WriteAll(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    for (int i = 0; i < 100; ++i) {
      testing::WriteAll(s, "x");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }));
  auto client = MakeClient(MapTo(server), absl::Milliseconds(400));
  EXPECT_THAT(client->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(Client, BodyOverTheLimitIsRefused) {
  TestServer server([](const HttpRequest&) { return Reply(200, std::string(5000, 'x')); });
  auto client = MakeClient(MapTo(server), absl::Seconds(5), 4096);
  EXPECT_THAT(client->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kResourceExhausted));
  auto small = MakeClient(MapTo(server), absl::Seconds(5), 5000);
  EXPECT_THAT(small->Get("bob.test", "/api/me"), IsOk());
}

TEST(Client, ChunkedBodyOverTheLimitIsRefused) {
  TestServer server(TestServer::RawHandler([](tcp::socket& s) {
    if (!testing::ReadHead(s)) return;
    std::string reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; ++i) reply += "400\r\n" + std::string(1024, 'y') + "\r\n";
    testing::WriteAll(s, reply + "0\r\n\r\n");
  }));
  auto client = MakeClient(MapTo(server), absl::Seconds(5), 4096);
  EXPECT_THAT(client->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kResourceExhausted));
}

class MalformedReply : public ::testing::TestWithParam<std::string> {};

TEST_P(MalformedReply, IsUnavailable) {
  std::string reply = GetParam();
  TestServer server(TestServer::RawHandler([&](tcp::socket& s) {
    if (testing::ReadHead(s)) testing::WriteAll(s, reply);
  }));
  auto client = MakeClient(MapTo(server), absl::Seconds(3));
  EXPECT_THAT(client->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kUnavailable));
}

INSTANTIATE_TEST_SUITE_P(
    Client, MalformedReply,
    ::testing::Values(
        std::string(""), std::string("garbage\r\n\r\n"), std::string("HTTP/1.1 2000 OK\r\n\r\n"),
        std::string("HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\n") + std::string(100000, 'X') + ": y\r\n\r\n",
        std::string("HTTP/1.1 200 OK\r\nX: ") + std::string(100000, 'v') + "\r\n\r\n",
        std::string("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nab"),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc"),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabcde\r\n0\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"), std::string("\0\0\0\0\r\n\r\n", 8)));

TEST(Client, BodyUntilCloseIsRead) {
  TestServer server(TestServer::RawHandler([](tcp::socket& s) {
    if (testing::ReadHead(s)) testing::WriteAll(s, "HTTP/1.1 200 OK\r\n\r\nall of it");
  }));
  auto client = MakeClient(MapTo(server));
  auto r = client->Get("bob.test", "/api/me");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body, "all of it");
}

TEST(Client, RefusesBadIdTagsPathsAndHeaders) {
  auto client = MakeClient("");
  for (const char* bad : {"", "a.io", "Bob.test", " bob.test", "bob.test.", "xn--bcher-kva.test",
                          "bob_x.test", "127.0.0.1:80", "bob.test/x", "user@bob.test"}) {
    EXPECT_THAT(client->Get(bad, "/api/me"), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  std::string long_tag = std::string(60, 'a') + ".io";  // A-label of 63
  EXPECT_THAT(client->Get(long_tag, "/api/me"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->Get("bob.test", "/me"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->Get("bob.test", "/api/me x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->Get("bob.test", "/api/me\r\nX: y"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->Get("bob.test", "/api/me", {{"X", "a\r\nInjected: 1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->Get("bob.test", "/api/me", {{"Bad Name", "v"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->Get("bob.test", "/api/me", {{"Host", "evil"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Client, GuardRefusesUnmappedNamesResolvingToLoopback) {
  // A test server on loopback, reachable only under its own mapped name.
  TestServer server([](const HttpRequest&) { return Reply(200, "{}"); });
  ClientConfig c;
  c.federation_map = MapTo(server);
  c.static_hosts = {{"cl-o.alice.localhost", "127.0.0.1"},
                    {"cl-o.meta.test", "169.254.169.254"},
                    {"cl-o.v6.test", "::ffff:127.0.0.1"},
                    {"cl-o.public.test", "192.0.2.1"}};
  auto client = Client::Create(c);
  ASSERT_THAT(client, IsOk());
  EXPECT_THAT((*client)->Get("alice.localhost", "/api/me"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT((*client)->Get("meta.test", "/api/me"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT((*client)->Get("v6.test", "/api/me"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT((*client)->Get("public.test", "/api/me"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT((*client)->Get("bob.test", "/api/me"), IsOk());
  EXPECT_EQ(server.requests(), 1);
}

TEST(Client, CreateRefusesAHostileMap) {
  ClientConfig c;
  c.federation_map = "cl-o.bob.test=http://10.0.0.1:80";
  EXPECT_THAT(Client::Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.federation_map = "";
  c.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(Client::Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Client, ConnectionRefusedIsUnavailable) {
  int port;
  {
    TestServer server([](const HttpRequest&) { return Reply(200, "{}"); });
    port = server.port();
  }
  auto client = MakeClient(absl::StrCat("cl-o.bob.test=http://127.0.0.1:", port));
  EXPECT_THAT(client->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kUnavailable));
}

class Https : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new std::string(testing::MakeSelfSignedCert("cl-o.bob.test")); }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
  }
  static std::string* dir_;
};
std::string* Https::dir_ = nullptr;

TEST_F(Https, VerifiesTheApiHostAgainstTheCaFile) {
  std::string sni_seen;
  TestServer server([](const HttpRequest& req) { return Reply(200, std::string(req[http::field::host])); },
                    *dir_ + "/cert.pem", *dir_ + "/key.pem");
  std::string map = MapTo(server, "cl-o.bob.test", "https") + "," + MapTo(server, "cl-o.carol.test", "https");
  auto client = MakeClient(map, absl::Seconds(5), 1 << 20, *dir_ + "/cert.pem");
  auto r = client->Get("bob.test", "/api/me");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body, "cl-o.bob.test");
  ASSERT_THAT(client->Get("bob.test", "/api/me"), IsOk());
  EXPECT_EQ(server.connections(), 1);  // kept alive over TLS too
  // The same certificate does not name cl-o.carol.test.
  EXPECT_THAT(client->Get("carol.test", "/api/me"), StatusIs(absl::StatusCode::kUnavailable));
  // Without the CA the self-signed certificate is not trusted.
  auto untrusting = MakeClient(map);
  EXPECT_THAT(untrusting->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(Https, PlainHttpServerBehindAnHttpsMappingIsUnavailable) {
  TestServer server([](const HttpRequest&) { return Reply(200, "{}"); });
  auto client =
      MakeClient(MapTo(server, "cl-o.bob.test", "https"), absl::Seconds(3), 1 << 20, *dir_ + "/cert.pem");
  EXPECT_THAT(client->Get("bob.test", "/api/me"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ClientConfig, LoadsFromTheEnvironment) {
  ConfigSource src({{"CLOUDILLO_FEDERATION_MAP", "cl-o.bob.test=http://127.0.0.1:1"},
                    {"CLOUDILLO_FEDERATION_TIMEOUT_MS", "2500"},
                    {"CLOUDILLO_FEDERATION_CA", "/tmp/ca.pem"}});
  ClientConfig c = ClientConfig::Load(src);
  EXPECT_THAT(src.Finish(), IsOk());
  EXPECT_EQ(c.federation_map, "cl-o.bob.test=http://127.0.0.1:1");
  EXPECT_EQ(c.timeout, absl::Milliseconds(2500));
  EXPECT_EQ(c.ca_file, "/tmp/ca.pem");
  ConfigSource defaults({});
  EXPECT_EQ(ClientConfig::Load(defaults).timeout, absl::Seconds(10));
}

}  // namespace
}  // namespace cloudillo::federation
