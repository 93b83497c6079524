// The gateway end to end over real HTTP and real gRPC (in-process channel) against
// fake backends: the asynchronous request flow, the directory's coalescing and
// invalidation, the failed-login delay, the order of the limits, the stream bridges
// and the closed metric label sets. One I/O thread throughout: anything that blocked
// it would show up as a stalled request.
#include <grpcpp/generic/async_generic_service.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "cloudillo/crypto/access_token.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/rpc/status.h"
#include "gateway.h"

namespace cloudillo::gateway {
namespace {

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;
using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;
using json = nlohmann::json;

constexpr char kTenant[] = "alice.test";
constexpr int64_t kTn = 7;

// --- fake backends ---------------------------------------------------------------------

class FakeIdentity final : public cloudillo::v1::Identity::CallbackService {
 public:
  grpc::ServerUnaryReactor* ResolveTenant(grpc::CallbackServerContext* ctx,
                                          const cloudillo::v1::ResolveTenantRequest* req,
                                          cloudillo::v1::Tenant* out) override {
    ++resolves;
    return rpc::Serve(ctx, out, pool, [this, req]() -> absl::StatusOr<cloudillo::v1::Tenant> {
      std::this_thread::sleep_for(std::chrono::milliseconds(resolve_delay_ms.load()));
      if (req->id_tag() != kTenant && req->id_tag() != "slow.test") return absl::NotFoundError("no tenant");
      cloudillo::v1::Tenant t;
      t.set_tn_id(req->id_tag() == kTenant ? kTn : 8);
      t.set_id_tag(req->id_tag());
      t.set_status("active");
      return t;
    });
  }
  rpc::WorkerPool pool{{"fake-identity", 8, 100}};
  std::atomic<int> resolves{0};
  std::atomic<int> resolve_delay_ms{0};
};

class FakeAccess final : public cloudillo::v1::Access::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetTokenSecrets(grpc::CallbackServerContext* ctx, const cloudillo::v1::TenantRef*,
                                            cloudillo::v1::TokenSecrets* out) override {
    ++fetches;
    return rpc::ServeInline(ctx, out, [this]() -> absl::StatusOr<cloudillo::v1::TokenSecrets> {
      std::lock_guard<std::mutex> lock(mu);
      cloudillo::v1::TokenSecrets s;
      for (const auto& [kid, secret] : secrets) {
        auto* e = s.add_secrets();
        e->set_kid(kid);
        e->set_secret(secret);
      }
      return s;
    });
  }
  std::mutex mu;
  std::map<std::string, std::string> secrets{{"k1", "secret-one"}};
  std::atomic<int> fetches{0};
};

std::atomic<int> cached_calls{0};
std::atomic<int> download_calls{0};

// Every edge method and the test streams, by method name.
void Parse(const grpc::ByteBuffer& b, google::protobuf::Message* m) {
  std::vector<grpc::Slice> slices;
  (void)b.Dump(&slices);
  std::string s;
  for (auto& sl : slices) s.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  m->ParseFromString(s);
}

class FakeEdge final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    if (ctx->method() == "/test.Echo/Sockets") {
      ++mux_calls;
      auto also = ctx->client_metadata().find("cloudillo-mux-also");
      mux_asked_also = also != ctx->client_metadata().end() && also->second == "1";
      return new MuxReactor(this);
    }
    return new Reactor(ctx->method());
  }

  std::atomic<int> mux_calls{0};
  std::atomic<int> mux_closes{0};
  std::atomic<int> mux_last_close_code{0};
  std::atomic<bool> mux_asked_also{false};

 private:
  // A service of multiplexed sockets (common.proto MuxFrame): accepts every socket, echoes
  // its messages, closes on "bye" (4000), sends N 64 KiB messages on "flood:N" whatever
  // the client reads, sends "heard:X" on "shout:X" to every socket it knows as one event
  // naming them (MuxEvent.also), and ends the whole stream on "die".
  class MuxReactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit MuxReactor(FakeEdge* edge) : edge_(edge) { StartRead(&in_); }
    void OnReadDone(bool ok) override {
      if (!ok) return End(grpc::Status::OK);
      cloudillo::v1::MuxFrame frame;
      Parse(in_, &frame);
      for (const auto& ev : frame.events()) {
        const uint64_t id = ev.socket();
        if (ev.has_open()) {
          known_.push_back(id);
          Emit(id).mutable_accepted();
          Emit(id).mutable_ready();
        } else if (ev.has_close()) {
          ++edge_->mux_closes;
          edge_->mux_last_close_code = ev.close().code();
        } else if (ev.text() == "die") {
          return End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
        } else if (ev.text() == "bye") {
          auto& c = *Emit(id).mutable_close();
          c.set_code(4000);
          c.set_reason("bye");
        } else if (ev.text().rfind("shout:", 0) == 0) {
          auto& shout = Emit(id);
          shout.set_text("heard:" + ev.text().substr(6));
          for (uint64_t other : known_)
            if (other != id) shout.add_also(other);
          shout.add_also(987654);  // a socket the gateway never opened: skipped
          Emit(id).mutable_ready();
        } else if (ev.text().rfind("flood:", 0) == 0) {
          for (int i = std::atoi(ev.text().c_str() + 6); i > 0; --i)
            Emit(id).set_binary(std::string(64 << 10, 'f'));
        } else {
          if (ev.has_text()) Emit(id).set_text("echo:" + ev.text());
          if (ev.has_binary()) Emit(id).set_binary("echo:" + ev.binary());
          Emit(id).mutable_ready();
        }
      }
      Pump();
      StartRead(&in_);
    }
    void OnWriteDone(bool ok) override {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (ok) PumpLocked();
    }
    void OnDone() override { delete this; }

   private:
    // No write may start after Finish.
    void End(grpc::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      Finish(status);
    }
    cloudillo::v1::MuxEvent& Emit(uint64_t id) {
      std::lock_guard<std::mutex> lock(mu_);
      auto* ev = queued_.add_events();
      ev->set_socket(id);
      return *ev;
    }
    void Pump() {
      std::lock_guard<std::mutex> lock(mu_);
      PumpLocked();
    }
    // Small frames, so that a flood reaches the gateway as many messages.
    void PumpLocked() {
      if (writing_ || finished_ || queued_.events_size() == 0) return;
      cloudillo::v1::MuxFrame next;
      int n = std::min(queued_.events_size(), 8);
      for (int i = 0; i < n; ++i) *next.add_events() = queued_.events(i);
      queued_.mutable_events()->DeleteSubrange(0, n);
      std::string bytes = next.SerializeAsString();
      grpc::Slice slice(bytes);
      out_ = grpc::ByteBuffer(&slice, 1);
      writing_ = true;
      StartWrite(&out_);
    }
    FakeEdge* edge_;
    grpc::ByteBuffer in_, out_;
    std::mutex mu_;
    cloudillo::v1::MuxFrame queued_;
    std::vector<uint64_t> known_;  // read thread only
    bool writing_ = false, finished_ = false;
  };

  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(std::string method) : method_(std::move(method)) { StartRead(&in_); }
    void OnReadDone(bool ok) override {
      if (method_ == "/test.Echo/Upload") return Upload(ok);
      if (method_ == "/test.Echo/Socket") return Socket(ok);
      if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      ApiRequest req;
      Parse(in_, &req);
      if (method_ == "/test.Echo/Download" || method_ == "/test.Echo/KeptDownload") {
        call_ = ++download_calls;
        // ?short: the head announces more bytes than the body holds.
        short_ = req.query().count("short") > 0;
        if (req.query().count("slow")) {  // the head after 300 ms
          std::thread([this] {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            Download();
          }).detach();
          return;
        }
        return Download();
      }
      if (method_ == "/test.Echo/Cached") {
        // A reply the gateway may keep until tag "profile:7" is published.
        ApiReply reply;
        reply.set_data_json(json{{"name", req.path().at("name")}, {"call", ++cached_calls}}.dump());
        reply.mutable_cache()->set_max_age_ms(60000);
        reply.mutable_cache()->set_tag("profile:7");
        return Reply(reply, true);
      }
      if (method_ == "/cloudillo.v1.AccessEdge/Login") {
        return Finish(rpc::ToGrpcStatus(
            rpc::WithAnswerDelay(rpc::ApiError(absl::StatusCode::kPermissionDenied, "E-AUTH-NOPERM", "no"),
                                 absl::Milliseconds(400))));
      }
      const auto& c = req.ctx();
      json data = {{"method", method_},
                   {"tn", c.tn_id()},
                   {"subject", c.subject()},
                   {"auth", c.auth_kind()},
                   {"authenticated", c.authenticated()}};
      ApiReply reply;
      reply.set_data_json(data.dump());
      Reply(reply, true);
    }
    void OnWriteDone(bool ok) override {
      if (method_ == "/test.Echo/Download" || method_ == "/test.Echo/KeptDownload") return Download();
      if (method_ == "/test.Echo/Socket") return StartRead(&in_);
      if (finish_after_write_) Finish(grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    void Reply(const google::protobuf::Message& m, bool last) {
      std::string s = m.SerializeAsString();
      grpc::Slice slice(s);
      out_ = grpc::ByteBuffer(&slice, 1);
      finish_after_write_ = last;
      StartWrite(&out_);
    }
    void Upload(bool ok) {
      if (!ok) {
        ApiReply reply;
        reply.set_data_json(json{{"bytes", bytes_}, {"head", head_}}.dump());
        return Reply(reply, true);
      }
      cloudillo::v1::ApiUploadPart part;
      Parse(in_, &part);
      if (part.has_head()) head_ = part.head().ctx().subject();
      bytes_ += int64_t(part.chunk().size());
      StartRead(&in_);
    }
    void Download() {
      cloudillo::v1::ApiDownloadPart part;
      if (step_ == 0) {
        part.mutable_head()->set_http_status(200);
        (*part.mutable_head()->mutable_headers())["Content-Type"] = "text/plain";
        (*part.mutable_head()->mutable_headers())["Content-Length"] = short_ ? "12" : "9";
        (*part.mutable_head()->mutable_headers())["X-Call"] = std::to_string(call_);
        if (method_ == "/test.Echo/KeptDownload") {
          part.mutable_head()->mutable_cache()->set_max_age_ms(60000);
          part.mutable_head()->mutable_cache()->set_tag("files:7");
        }
      } else if (step_ <= 3) {
        part.set_chunk(std::string(3, char('a' + step_ - 1)));
      } else {
        return Finish(grpc::Status::OK);
      }
      ++step_;
      Reply(part, false);
    }
    void Socket(bool ok) {
      if (!ok) return Finish(grpc::Status::OK);
      cloudillo::v1::SocketFrame in, out;
      Parse(in_, &in);
      if (in.has_open()) {
        out.mutable_accepted();
      } else if (in.has_text() && in.text() == "bye") {
        out.mutable_close()->set_code(4000);
        out.mutable_close()->set_reason("bye");
      } else if (in.has_text()) {
        out.set_text("echo:" + in.text());
      } else if (in.has_binary()) {
        out.set_binary("echo:" + in.binary());
      } else {
        return StartRead(&in_);
      }
      Reply(out, false);
    }

    std::string method_;
    grpc::ByteBuffer in_, out_;
    bool finish_after_write_ = false;
    int64_t bytes_ = 0;
    std::string head_;
    int step_ = 0;
    int call_ = 0;
    bool short_ = false;
  };
};

// --- the fixture -------------------------------------------------------------------------

std::vector<Route> TestRoutes() {
  return {
      {"GET", "/api/me/full", AuthMode::kOptional, "general", false, "identity",
       "/cloudillo.v1.IdentityEdge/GetMeFull"},
      {"POST", "/api/auth/login", AuthMode::kIgnore, "auth", true, "access",
       "/cloudillo.v1.AccessEdge/Login"},
      {"GET", "/api/settings", AuthMode::kRequired, nullptr, false, "identity",
       "/cloudillo.v1.IdentityEdge/ListSettings"},
      {"POST", "/api/test/upload", AuthMode::kRequired, nullptr, false, "test", "/test.Echo/Upload",
       RouteKind::kUpload, 4 << 20},
      {"GET", "/api/test/download", AuthMode::kOptional, "general", false, "test", "/test.Echo/Download",
       RouteKind::kDownload},
      {"GET", "/ws/test", AuthMode::kOptional, "websocket", false, "test", "/test.Echo/Socket",
       RouteKind::kWebSocket},
      {"GET", "/ws/mux/{id}", AuthMode::kOptional, "websocket", false, "test", "/test.Echo/Sockets",
       RouteKind::kMuxedSocket},
      {"GET", "/api/test/kept/{name}", AuthMode::kOptional, "general", false, "test",
       "/test.Echo/KeptDownload", RouteKind::kDownload},
      {"GET", "/api/nowhere", AuthMode::kOptional, "general", false, "missing", "/x.Y/Z"},
      {"GET", "/api/test/cached/{name}", AuthMode::kOptional, "general", false, "test", "/test.Echo/Cached"},
      {"POST", "/api/test/cached/{name}", AuthMode::kRequired, nullptr, false, "test", "/test.Echo/Write"},
  };
}

class GatewayFlowTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(std::function<void(GatewayConfig&)> tweak) {
    grpc::ServerBuilder b;
    b.RegisterService(&identity_);
    b.RegisterService(&access_);
    edge_ = std::make_unique<FakeEdge>();  // a generic service serves one server only
    b.RegisterCallbackGenericService(edge_.get());
    server_ = b.BuildAndStart();
    auto ch = server_->InProcessChannel(grpc::ChannelArguments());
    GatewayBackends backends;
    backends.directory.identity = cloudillo::v1::Identity::NewStub(ch);
    backends.directory.access = cloudillo::v1::Access::NewStub(ch);
    backends.channels = {{"identity", ch}, {"access", ch}, {"test", ch}};
    GatewayConfig cfg;
    cfg.listen_address = "127.0.0.1";
    cfg.threads = 1;
    cfg.access_log = false;
    cfg.rpc_timeout_ms = 5000;
    for (const char* n : {"auth", "federation", "general", "search", "websocket", "dav"})
      cfg.buckets.push_back(cache::DefaultBucket(n));
    cfg.lookup_bucket = {"lookup", {1000, 1000}, {}, {}, {}};
    cfg.anonymous_bucket = {"anonymous", {1000, 1000}, {}, {}, {}};
    cfg.tenant_limit = {1000, 1000};
    if (tweak) tweak(cfg);
    registry_ = std::make_shared<prometheus::Registry>();
    gw_ = std::make_unique<Gateway>(cfg, std::move(backends), nullptr, registry_, Clock::Real(), routes_);
    auto http = http::HttpServer::Start(gw_->ServerOptions(0, false));
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = std::move(*http);
  }

  void TearDown() override {
    if (http_) http_->Stop(absl::Seconds(1));
    gw_.reset();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  std::string Token(const std::string& kid, const std::string& secret,
                    std::optional<int64_t> ak = std::nullopt) {
    crypto::AccessClaims c;
    c.iss = kTenant;
    c.sub = kTenant;
    c.roles = "public,leader";
    c.api_key_id = ak;
    c.exp = absl::ToUnixSeconds(absl::Now()) + 600;
    return crypto::SignAccessToken(c, secret, kid);
  }

  struct Answer {
    int status = 0;
    std::string head, body;
  };
  // Sends raw bytes on a new connection and returns everything until the server closes.
  std::string RoundTrip(const std::string& raw) {
    boost::asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(http_->port())});
    boost::asio::write(s, boost::asio::buffer(raw));
    std::string out;
    beast::error_code ec;
    char buf[8192];
    for (;;) {
      size_t n = s.read_some(boost::asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }
  Answer Get(const std::string& path, const std::string& host = std::string("cl-o.") + kTenant,
             const std::string& extra = "", const std::string& method = "GET", const std::string& body = "") {
    std::string req =
        method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" + extra;
    if (!body.empty())
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    std::string out = RoundTrip(req);
    Answer a;
    size_t sp = out.find(' ');
    if (sp != std::string::npos) a.status = std::atoi(out.c_str() + sp + 1);
    size_t end = out.find("\r\n\r\n");
    a.head = out.substr(0, end);
    if (end != std::string::npos) a.body = out.substr(end + 4);
    return a;
  }
  std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

  FakeIdentity identity_;
  FakeAccess access_;
  std::unique_ptr<FakeEdge> edge_;
  std::unique_ptr<grpc::Server> server_;
  RouteTable routes_{TestRoutes()};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Gateway> gw_;
  std::unique_ptr<http::HttpServer> http_;
};

TEST_F(GatewayFlowTest, AuthenticatedCallReachesTheBackendWithItsContext) {
  Answer a = Get("/api/me/full", std::string("cl-o.") + kTenant, Bearer(Token("k1", "secret-one")));
  ASSERT_EQ(a.status, 200) << a.head << a.body;
  json j = json::parse(a.body);
  EXPECT_EQ(j["data"]["method"], "/cloudillo.v1.IdentityEdge/GetMeFull");
  EXPECT_EQ(j["data"]["tn"], kTn);
  EXPECT_EQ(j["data"]["subject"], kTenant);
  EXPECT_EQ(j["data"]["auth"], "token");
  EXPECT_TRUE(j.contains("reqId"));
  // A token minted from an API key stays an API key's token.
  a = Get("/api/me/full", std::string("cl-o.") + kTenant, Bearer(Token("k1", "secret-one", 42)));
  EXPECT_EQ(json::parse(a.body)["data"]["auth"], "api_key");
  // A bad signature on an optional route degrades to a guest.
  a = Get("/api/me/full", std::string("cl-o.") + kTenant, Bearer(Token("k1", "wrong")));
  EXPECT_EQ(json::parse(a.body)["data"]["authenticated"], false);
  // ... and is a 401 on a required one.
  EXPECT_EQ(Get("/api/settings", std::string("cl-o.") + kTenant, Bearer(Token("k1", "wrong"))).status, 401);
  EXPECT_EQ(Get("/api/settings").status, 403);
  EXPECT_EQ(Get("/api/me/full", "cl-o.nobody.test").status, 403);
}

TEST_F(GatewayFlowTest, AFailedLoginsDelayHoldsNoThread) {
  auto login = std::async(std::launch::async, [&] {
    auto t0 = std::chrono::steady_clock::now();
    Answer a = Get("/api/auth/login", std::string("cl-o.") + kTenant, "", "POST", "{}");
    return std::make_pair(a.status, std::chrono::steady_clock::now() - t0);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Get("/api/me/full").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  auto [status, took] = login.get();
  EXPECT_EQ(status, 403);
  EXPECT_GE(took, std::chrono::milliseconds(390));
}

TEST_F(GatewayFlowTest, ConcurrentMissesShareOneLookup) {
  identity_.resolve_delay_ms = 150;
  std::vector<std::future<int>> calls;
  for (int i = 0; i < 20; ++i) {
    calls.push_back(
        std::async(std::launch::async, [&] { return Get("/api/me/full", "cl-o.slow.test").status; }));
  }
  for (auto& c : calls) EXPECT_EQ(c.get(), 200);
  EXPECT_EQ(identity_.resolves.load(), 1);
  EXPECT_EQ(Get("/api/me/full", "cl-o.slow.test").status, 200);
  EXPECT_EQ(identity_.resolves.load(), 1);  // cached now
}

TEST_F(GatewayFlowTest, AnInvalidationDuringALookupIsNotLost) {
  identity_.resolve_delay_ms = 300;
  auto first = std::async(std::launch::async, [&] { return Get("/api/me/full", "cl-o.slow.test").status; });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  gw_->OnInvalidation("tenant:slow.test");  // arrives while the lookup is in flight
  EXPECT_EQ(first.get(), 200);
  identity_.resolve_delay_ms = 0;
  EXPECT_EQ(Get("/api/me/full", "cl-o.slow.test").status, 200);
  EXPECT_EQ(identity_.resolves.load(), 2);  // the stale answer was not kept
}

TEST_F(GatewayFlowTest, AnUnknownKidRefreshesTheSecretsOnce) {
  EXPECT_EQ(Get("/api/settings", std::string("cl-o.") + kTenant, Bearer(Token("k1", "secret-one"))).status,
            200);
  int before = access_.fetches.load();
  {
    std::lock_guard<std::mutex> lock(access_.mu);
    access_.secrets["k2"] = "secret-two";  // rotated on another replica: no invalidation seen here
  }
  EXPECT_EQ(Get("/api/settings", std::string("cl-o.") + kTenant, Bearer(Token("k2", "secret-two"))).status,
            200);
  EXPECT_EQ(access_.fetches.load(), before + 1);
  // Made-up kids cannot make us fetch again and again.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        Get("/api/settings", std::string("cl-o.") + kTenant, Bearer(Token("x" + std::to_string(i), "s")))
            .status,
        401);
  }
  EXPECT_LE(access_.fetches.load(), before + 2);
}

TEST_F(GatewayFlowTest, StrangersCannotSpendATenantsBudget) {
  TearDown();
  Start([](GatewayConfig& c) { c.tenant_limit = {1, 5}; });
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(Get("/api/settings").status, 403);  // anonymous: the tenant pays nothing
  std::string owner = Bearer(Token("k1", "secret-one"));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(Get("/api/settings", std::string("cl-o.") + kTenant, owner).status, 200);
  Answer limited = Get("/api/settings", std::string("cl-o.") + kTenant, owner);
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("\"level\":\"tenant\""), std::string::npos) << limited.body;
}

TEST_F(GatewayFlowTest, AnonymousRequestsAndLookupsAreLimitedPerAddress) {
  TearDown();
  Start([](GatewayConfig& c) {
    c.anonymous_bucket = {"anonymous", {1, 3}, {}, {}, {}};
    c.lookup_bucket = {"lookup", {1, 3}, {}, {}, {}};
  });
  int limited = 0;
  for (int i = 0; i < 6; ++i) limited += Get("/api/settings").status == 429;
  EXPECT_GE(limited, 2);
  // Made-up hosts each cost a lookup; the address runs out of them.
  int refused = 0, looked_up = identity_.resolves.load();
  for (int i = 0; i < 10; ++i)
    refused += Get("/api/me/full", "cl-o.made-up-" + std::to_string(i) + ".test").status == 429;
  EXPECT_GE(refused, 6);
  EXPECT_LE(identity_.resolves.load() - looked_up, 4);
}

TEST_F(GatewayFlowTest, UploadsStreamThroughTheBackend) {
  std::string chunked;
  for (int i = 0; i < 40; ++i) chunked += "10000\r\n" + std::string(0x10000, 'u') + "\r\n";
  chunked += "0\r\n\r\n";
  std::string extra = Bearer(Token("k1", "secret-one")) + "Transfer-Encoding: chunked\r\n";
  std::string out = RoundTrip(std::string("POST /api/test/upload HTTP/1.1\r\nHost: cl-o.") + kTenant +
                              "\r\nConnection: close\r\n" + extra + "\r\n" + chunked);
  EXPECT_NE(out.find("\"bytes\":2621440"), std::string::npos) << out.substr(0, 400);
  EXPECT_NE(out.find(std::string("\"head\":\"") + kTenant), std::string::npos);
}

TEST_F(GatewayFlowTest, UploadsPastTheRouteLimitAre413) {
  std::string extra =
      Bearer(Token("k1", "secret-one")) + "Content-Length: " + std::to_string(5 << 20) + "\r\n";
  Answer a = Get("/api/test/upload", std::string("cl-o.") + kTenant, extra, "POST");
  EXPECT_EQ(a.status, 413);
}

TEST_F(GatewayFlowTest, DownloadsStreamFromTheBackend) {
  Answer a = Get("/api/test/download");
  ASSERT_EQ(a.status, 200) << a.head;
  EXPECT_NE(a.head.find("Content-Length: 9"), std::string::npos) << a.head;
  EXPECT_EQ(a.body, "aaabbbccc");
}

TEST_F(GatewayFlowTest, WebSocketsBridgeToABidirectionalStream) {
  boost::asio::io_context ioc;
  beast::websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(http_->port())});
  ws.handshake(std::string("cl-o.") + kTenant, "/ws/test");
  beast::flat_buffer buf;
  for (const char* m : {"one", "two"}) {
    ws.text(true);
    ws.write(boost::asio::buffer(std::string(m)));
    buf.clear();
    ws.read(buf);
    EXPECT_EQ(beast::buffers_to_string(buf.data()), std::string("echo:") + m);
  }
  ws.binary(true);
  ws.write(boost::asio::buffer(std::string("\x01\x02", 2)));
  buf.clear();
  ws.read(buf);
  EXPECT_TRUE(ws.got_binary());
  ws.text(true);
  ws.write(boost::asio::buffer(std::string("bye")));
  buf.clear();
  beast::error_code ec;
  ws.read(buf, ec);
  EXPECT_EQ(ec, beast::websocket::error::closed);
  EXPECT_EQ(ws.reason().code, 4000);
  // A plain GET on a socket route is refused in the envelope.
  EXPECT_EQ(Get("/ws/test").status, 400);
}

// Sockets of a multiplexed route share one stream: each echoes on its own, a service's
// close reaches its client only, a client's close reaches the service, a client that
// reads nothing while the service floods it is closed (1013) without holding up the
// others, and a stream that ends closes its sockets (1011) and is replaced.
TEST_F(GatewayFlowTest, MultiplexedSocketsShareOneStream) {
  TearDown();
  Start([](GatewayConfig& c) { c.socket_streams = 1; });
  boost::asio::io_context ioc;
  auto open = [&](const std::string& id) {
    auto ws = std::make_unique<beast::websocket::stream<tcp::socket>>(ioc);
    ws->next_layer().connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(http_->port())});
    ws->handshake(std::string("cl-o.") + kTenant, "/ws/mux/" + id);
    ws->text(true);
    return ws;
  };
  auto echo = [](beast::websocket::stream<tcp::socket>& ws, const std::string& m) {
    ws.write(boost::asio::buffer(m));
    beast::flat_buffer buf;
    ws.read(buf);
    return beast::buffers_to_string(buf.data());
  };
  auto closed_with = [](beast::websocket::stream<tcp::socket>& ws) {
    beast::flat_buffer buf;
    beast::error_code ec;
    while (!ec) {
      buf.clear();
      ws.read(buf, ec);
    }
    return ec == beast::websocket::error::closed ? int(ws.reason().code) : -1;
  };
  auto a = open("a"), b = open("b");
  EXPECT_EQ(echo(*a, "one"), "echo:one");
  EXPECT_EQ(echo(*b, "two"), "echo:two");
  EXPECT_EQ(echo(*a, "three"), "echo:three");
  EXPECT_EQ(edge_->mux_calls, 1);
  EXPECT_TRUE(edge_->mux_asked_also);

  // One event for both sockets: each client gets the message once.
  EXPECT_EQ(echo(*a, "shout:hi"), "heard:hi");
  {
    beast::flat_buffer buf;
    b->read(buf);
    EXPECT_EQ(beast::buffers_to_string(buf.data()), "heard:hi");
  }
  EXPECT_EQ(echo(*b, "after"), "echo:after");
  EXPECT_EQ(echo(*a, "after"), "echo:after");

  a->write(boost::asio::buffer(std::string("bye")));
  EXPECT_EQ(closed_with(*a), 4000);
  EXPECT_EQ(echo(*b, "still"), "echo:still");

  auto c = open("c");
  EXPECT_EQ(echo(*c, "x"), "echo:x");
  int closes = edge_->mux_closes;
  c->close(beast::websocket::close_code::going_away);
  for (int i = 0; i < 200 && edge_->mux_closes == closes; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(edge_->mux_closes, closes + 1);
  EXPECT_EQ(edge_->mux_last_close_code, 1001);

  // 2,000 messages of 64 KiB (125 MiB) for a client that reads nothing.
  auto slow = open("slow");
  slow->write(boost::asio::buffer(std::string("flood:2000")));
  for (int i = 0; i < 500 && edge_->mux_last_close_code != 1013; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(edge_->mux_last_close_code, 1013);
  EXPECT_EQ(echo(*b, "meanwhile"), "echo:meanwhile");
  EXPECT_EQ(closed_with(*slow), 1013);

  b->write(boost::asio::buffer(std::string("die")));
  EXPECT_EQ(closed_with(*b), 1011);
  auto d = open("d");
  EXPECT_EQ(echo(*d, "again"), "echo:again");
  EXPECT_EQ(edge_->mux_calls, 2);
}

// Replies a service marked reusable are answered from memory per path, query and
// caller, and dropped when their tag is published or the tenant writes through here.
TEST_F(GatewayFlowTest, ReusableRepliesAreKeptUntilInvalidated) {
  const std::string host = std::string("cl-o.") + kTenant, bearer = Bearer(Token("k1", "secret-one"));
  auto call = [&](const std::string& path, const std::string& extra = "") {
    Answer a = Get(path, host, extra);
    EXPECT_EQ(a.status, 200) << path << a.body;
    json j = json::parse(a.body, nullptr, false);
    return j.is_discarded()
               ? std::string("?")
               : j["data"]["name"].get<std::string>() + "#" + std::to_string(j["data"]["call"].get<int>());
  };
  int base = cached_calls.load();
  auto n = [&](int k) { return "#" + std::to_string(base + k); };
  EXPECT_EQ(call("/api/test/cached/a"), "a" + n(1));
  EXPECT_EQ(call("/api/test/cached/a"), "a" + n(1));  // from memory
  EXPECT_EQ(call("/api/test/cached/b"), "b" + n(2));  // another path is another reply
  EXPECT_EQ(call("/api/test/cached/a?x=1"), "a" + n(3));
  EXPECT_EQ(call("/api/test/cached/a", bearer), "a" + n(4));  // another caller
  EXPECT_EQ(call("/api/test/cached/a", bearer), "a" + n(4));
  gw_->OnInvalidation("profile:7");
  EXPECT_EQ(call("/api/test/cached/a"), "a" + n(5));
  EXPECT_EQ(call("/api/test/cached/a"), "a" + n(5));
  EXPECT_EQ(Get("/api/test/cached/a", host, bearer, "POST", "{}").status, 200);  // a write of the tenant
  EXPECT_EQ(call("/api/test/cached/a"), "a" + n(6));
}

// A download the service marked reusable is kept whole and answered again from memory
// for the same request and caller; a range, another caller, another file, a write of
// the tenant, an invalidation or an answer shorter than its head each go to the service.
TEST_F(GatewayFlowTest, ReusableDownloadsAreKeptWhole) {
  const std::string host = std::string("cl-o.") + kTenant, bearer = Bearer(Token("k1", "secret-one"));
  // The number of the service's call that made the answer (its X-Call header).
  auto call = [&](const std::string& path, const std::string& extra = "") {
    Answer a = Get(path, host, extra);
    EXPECT_EQ(a.status, 200) << path << a.head;
    EXPECT_EQ(a.body, "aaabbbccc") << path;
    EXPECT_NE(a.head.find("Content-Type: text/plain"), std::string::npos) << a.head;
    EXPECT_NE(a.head.find("Content-Length: 9"), std::string::npos) << a.head;
    size_t at = a.head.find("X-Call: ");
    return at == std::string::npos ? -1 : std::atoi(a.head.c_str() + at + 8);
  };
  auto fresh = [&](const std::string& path, const std::string& extra = "") {
    return call(path, extra) == download_calls.load();
  };
  const int a1 = call("/api/test/kept/a");
  EXPECT_EQ(a1, download_calls.load());
  EXPECT_EQ(call("/api/test/kept/a"), a1);  // from memory
  EXPECT_EQ(call("/api/test/kept/a"), a1);
  EXPECT_TRUE(fresh("/api/test/kept/b"));           // another file
  const int a2 = call("/api/test/kept/a", bearer);  // another caller
  EXPECT_NE(a2, a1);
  EXPECT_EQ(call("/api/test/kept/a", bearer), a2);
  EXPECT_TRUE(fresh("/api/test/kept/a", "Range: bytes=0-8\r\n"));  // a range is always asked for
  EXPECT_TRUE(fresh("/api/test/kept/a", "Range: bytes=0-8\r\n"));
  EXPECT_EQ(call("/api/test/kept/a"), a1);
  EXPECT_EQ(Get("/api/test/cached/a", host, bearer, "POST", "{}").status, 200);  // a write of the tenant
  const int a3 = call("/api/test/kept/a");
  EXPECT_EQ(a3, download_calls.load());
  EXPECT_EQ(call("/api/test/kept/a"), a3);
  gw_->OnInvalidation("files:7");
  EXPECT_TRUE(fresh("/api/test/kept/a"));
  // Not marked reusable: never kept.
  int before = download_calls.load();
  EXPECT_EQ(Get("/api/test/download").body, "aaabbbccc");
  EXPECT_EQ(Get("/api/test/download").body, "aaabbbccc");
  EXPECT_EQ(download_calls.load(), before + 2);
  // Fewer bytes than the head announced: the client sees a cut answer, and nothing is kept.
  before = download_calls.load();
  for (int i = 0; i < 2; ++i) {
    Answer cut = Get("/api/test/kept/c?short");
    EXPECT_NE(cut.head.find("Content-Length: 12"), std::string::npos) << cut.head;
    EXPECT_LT(cut.body.size(), 12u);
  }
  EXPECT_EQ(download_calls.load(), before + 2);
}

// When a kept download is missing (first use, expiry), concurrent requests for it wait
// for one fetch instead of each asking the service; for an answer that will not be
// kept they go on as soon as its head says so.
TEST_F(GatewayFlowTest, ConcurrentMissesOfAReusableDownloadShareOneFetch) {
  auto burst = [&](const std::string& path, int n) {
    std::vector<std::thread> clients;
    std::atomic<int> whole{0};
    for (int i = 0; i < n; ++i) {
      clients.emplace_back([&] {
        Answer a = Get(path);
        if (a.status == 200 && a.body == "aaabbbccc") ++whole;
      });
    }
    for (auto& t : clients) t.join();
    return whole.load();
  };
  int before = download_calls.load();
  EXPECT_EQ(burst("/api/test/kept/z?slow", 8), 8);
  EXPECT_EQ(download_calls.load(), before + 1);
  before = download_calls.load();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(burst("/api/test/download?slow", 4), 4);
  EXPECT_EQ(download_calls.load(), before + 4);
  // Released at the first head (300 ms), not after a 2 s wait each.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(GatewayFlowTest, AMissingBackendIs503) { EXPECT_EQ(Get("/api/nowhere").status, 503); }

TEST_F(GatewayFlowTest, HostileMethodsPathsAndHostsAddNoSeries) {
  auto series = [&] {
    std::string text = prometheus::TextSerializer().Serialize(registry_->Collect());
    size_t n = 0;
    for (size_t p = text.find("\ncloudillo_http"); p != std::string::npos;
         p = text.find("\ncloudillo_http", p + 1))
      ++n;
    return n;
  };
  // Warm up one of each kind, then flood with variations of the same kinds.
  Get("/x", "cl-o.a.test", "", "BREW");
  Get("/api/zz1", "cl-o.a.test");
  Get("/x", "bad_host!");
  Get("/x", "other.host.test");
  size_t before = series();
  for (int i = 0; i < 30; ++i) {
    std::string n = std::to_string(i);
    Get("/x" + n, "cl-o.a" + n + ".test", "", "M" + std::string(50 + i, 'X'));
    Get("/api/zz" + n + "/" + n, "cl-o.a.test");
    Get("/" + n, "bad_" + n + "!");
    Get("/" + n, "host" + n + ".test");
  }
  EXPECT_EQ(series(), before);
  std::string text = prometheus::TextSerializer().Serialize(registry_->Collect());
  EXPECT_EQ(text.find("MXXX"), std::string::npos);
  EXPECT_EQ(text.find("zz1"), std::string::npos);
}

}  // namespace
}  // namespace cloudillo::gateway
