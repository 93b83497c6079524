// Native load generator for the inbox part of `tools/bench federation`: POSTs pre-built
// request bodies over a fixed number of keep-alive HTTP/1.1 connections to a server on
// loopback. It replaces a Node client that took a third of a core of the two-core bench
// machine away from the server it measured; one thread and one io_context are enough
// because the generator only waits on the server.
//
// Each connection sends the next unsent body, reads the answer, and repeats. Every body is
// sent at most once: a request whose connection fails, is closed or times out is counted
// as failed and the connection is opened again for the next body, so the run always ends.
//
// One JSON object on stdout; progress on stderr.
#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int port = 0;
  std::string host;  // the Host header: the gateway finds the tenant from it
  std::string path = "/api/inbox";
  std::string bodies_file;
  int connections = 32;
  unsigned expect = 201;
  double timeout_s = 30;
};

struct Run {
  const Options* opt;
  std::vector<std::string> bodies;
  tcp::endpoint endpoint;
  size_t next = 0;  // the next body to send
  size_t finished = 0;
  uint64_t failed = 0;
  uint64_t errors = 0;  // failures without an HTTP answer (connect, write, read, timeout)
  uint64_t connects = 0;
  std::map<unsigned, uint64_t> statuses;
  std::optional<Clock::time_point> first_send;
  Clock::time_point last_answer;
  int error_reports = 0;
  asio::steady_timer* progress = nullptr;
};

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(asio::io_context& ioc, Run& r) : ioc_(ioc), r_(r) {
    req_.method(http::verb::post);
    req_.target(r.opt->path);
    req_.version(11);
    req_.set(http::field::host, r.opt->host);
    req_.set(http::field::content_type, "application/json");
  }

  void Next() {
    if (r_.next >= r_.bodies.size()) {
      Close();
      return;
    }
    if (stream_)
      Send();
    else
      Connect();
  }

 private:
  void Connect() {
    // A fresh stream per connection: a timed-out beast stream is closed and its state spent.
    stream_.emplace(ioc_);
    stream_->expires_after(Timeout());
    r_.connects++;
    stream_->async_connect(r_.endpoint, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        if (self->r_.next >= self->r_.bodies.size()) return self->Close();
        // The body this connection would have sent is given up, so that a server that
        // refuses every connection ends the run instead of spinning forever.
        self->r_.next++;
        return self->Fail("connect", ec);
      }
      self->stream_->socket().set_option(tcp::no_delay(true));
      self->Next();  // other connections may have taken the last bodies meanwhile
    });
  }

  void Send() {
    const std::string& body = r_.bodies[r_.next++];
    if (!r_.first_send) r_.first_send = Clock::now();
    req_.body() = http::span_body<const char>::value_type(body.data(), body.size());
    req_.prepare_payload();
    stream_->expires_after(Timeout());
    http::async_write(*stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail("write", ec);
      self->Read();
    });
  }

  void Read() {
    res_.emplace();
    res_->body_limit(16u << 20);
    http::async_read(*stream_, buf_, *res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail("read", ec);
      self->Answered();
    });
  }

  void Answered() {
    const auto& res = res_->get();
    const unsigned status = res.result_int();
    r_.statuses[status]++;
    if (status != r_.opt->expect) r_.failed++;
    const bool keep = res.keep_alive();
    Finish();
    if (!keep) Close();
    Next();
  }

  void Fail(const char* what, beast::error_code ec) {
    r_.failed++;
    r_.errors++;
    if (r_.error_reports++ < 5) std::cerr << "http_post_load: " << what << ": " << ec.message() << "\n";
    Finish();
    Close();
    Next();
  }

  void Finish() {
    r_.last_answer = Clock::now();
    // The progress timer is the only other work: without it io_context::run returns.
    if (++r_.finished == r_.bodies.size()) r_.progress->cancel();
  }

  void Close() {
    if (!stream_) return;
    beast::error_code ignored;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->close();
    stream_.reset();
    buf_.clear();
  }

  Clock::duration Timeout() const {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(r_.opt->timeout_s));
  }

  asio::io_context& ioc_;
  Run& r_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buf_;
  // The body points into Run::bodies, which outlives every request: no copy per send.
  http::request<http::span_body<const char>> req_;
  std::optional<http::response_parser<http::string_body>> res_;
};

// Prints how far the run is every few seconds, so a stalled server is visible in the log.
void Progress(asio::steady_timer& t, const Run& r) {
  t.expires_after(std::chrono::seconds(5));
  t.async_wait([&t, &r](beast::error_code ec) {
    if (ec || r.finished >= r.bodies.size()) return;
    std::cerr << "http_post_load: " << r.finished << "/" << r.bodies.size() << " answered, " << r.failed
              << " failed\n";
    Progress(t, r);
  });
}

int Usage() {
  std::cerr << "usage: http_post_load --port=P --host=HOSTHEADER --bodies=FILE [--path=/api/inbox]\n"
               "  [--connections=32] [--expect=201] [--timeout=30]\n"
               "FILE holds one request body per line; each is POSTed once as application/json\n"
               "to 127.0.0.1:P.\n";
  return 2;
}

bool ParseFlags(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) return false;
    std::string k = a.substr(2, eq - 2), v = a.substr(eq + 1);
    size_t used = 0;
    if (k == "port") {
      o.port = std::stoi(v, &used);
    } else if (k == "host") {
      o.host = v;
    } else if (k == "path") {
      o.path = v;
    } else if (k == "bodies") {
      o.bodies_file = v;
    } else if (k == "connections") {
      o.connections = std::stoi(v, &used);
    } else if (k == "expect") {
      o.expect = static_cast<unsigned>(std::stoul(v, &used));
    } else if (k == "timeout") {
      o.timeout_s = std::stod(v, &used);
    } else {
      return false;
    }
    if (used != 0 && used != v.size()) return false;
  }
  return o.port > 0 && o.port < 65536 && !o.host.empty() && !o.path.empty() && o.path[0] == '/' &&
         !o.bodies_file.empty() && o.connections > 0 && o.expect >= 100 && o.expect < 1000 && o.timeout_s > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    if (!ParseFlags(argc, argv, o)) return Usage();
  } catch (const std::exception&) {
    return Usage();
  }
  Run r;
  r.opt = &o;
  {
    std::ifstream in(o.bodies_file, std::ios::binary);
    if (!in) {
      std::cerr << "http_post_load: cannot read " << o.bodies_file << "\n";
      return 1;
    }
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) r.bodies.push_back(std::move(line));
    }
    if (in.bad()) {
      std::cerr << "http_post_load: cannot read " << o.bodies_file << "\n";
      return 1;
    }
  }
  r.endpoint = tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(o.port));

  asio::io_context ioc{1};
  asio::steady_timer progress(ioc);
  r.progress = &progress;
  std::vector<std::shared_ptr<Conn>> conns;
  const size_t n = std::min(static_cast<size_t>(o.connections), r.bodies.size());
  for (size_t i = 0; i < n; i++) conns.push_back(std::make_shared<Conn>(ioc, r));
  for (auto& c : conns) c->Next();
  if (r.finished < r.bodies.size()) Progress(progress, r);
  ioc.run();

  const double seconds =
      r.first_send ? std::chrono::duration<double>(r.last_answer - *r.first_send).count() : 0.0;
  std::ostringstream json;
  json << "{\"sent\":" << r.bodies.size() << ",\"failed\":" << r.failed << ",\"seconds\":" << seconds
       << ",\"statuses\":{";
  bool first = true;
  for (const auto& [status, count] : r.statuses) {
    json << (first ? "" : ",") << "\"" << status << "\":" << count;
    first = false;
  }
  json << "},\"errors\":" << r.errors << ",\"connects\":" << r.connects << "}";
  std::cout << json.str() << std::endl;
  std::cerr << "http_post_load: " << r.bodies.size() << " POSTs over " << n << " connections (" << r.connects
            << " opened) in " << seconds << " s, " << r.failed << " failed\n";
  return 0;
}
