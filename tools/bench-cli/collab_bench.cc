// Native load generator for `tools/bench collab`: C WebSocket clients over D documents
// speaking y-protocols v1 (bare, as /ws/crdt, or with Hocuspocus's document-name prefix),
// each sending pre-generated Yjs updates (tools/bench-collab/gen_updates.mjs) at a fixed
// rate. Receivers identify an update by its first item's (clientID, clock), so the latency
// is measured whatever re-encoding the server applies. Written in C++ so that the
// generator is not the bottleneck (a Node one saturates near 36,000 deliveries/s on two
// cores).
//
// Load mode prints deliveries/s, p50/p99 delivery latency, and the CPU time and RSS of
// the server processes given by --server-pid. Memory mode opens --docs documents with one
// idle client each and prints the server's RSS growth per open document.
//
// One JSON object on stdout; progress on stderr.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "1234";
  std::string path = "/";   // y-websocket: the document id is appended
  std::string host_header;  // Host sent in the upgrade (the gateway routes by it)
  std::string token;
  std::string framing = "hocuspocus";
  std::string mode = "load";
  std::string updates_file;
  std::string doc_prefix = "bench-";
  std::string doc_ids_file;  // one document id per line, instead of prefix+index
  int doc_offset = 0;        // the documents used are number doc_offset.. of the list
  double hold_seconds = 0;   // memory mode: keep the sockets open this long after reporting
  std::vector<int> server_pids;
  int clients = 1000;
  int docs = 100;
  double rate = 2;  // updates per second per client
  double seconds = 20;
  double warmup = 3;
  double tick_ms = 2;  // the senders' timer granularity
  int threads = 0;
};

// --- lib0 encoding -----------------------------------------------------------------

void PutVarUint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutVarString(std::string& out, const std::string& s) {
  PutVarUint(out, s.size());
  out += s;
}

// Reads one varuint; false on truncation or more than 64 bits.
bool GetVarUint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// --- the pre-generated updates ----------------------------------------------------------

struct Updates {
  uint32_t clients = 0, per_client = 0, base = 0, len = 0;
  std::vector<std::vector<std::string>> by_client;  // raw Yjs update v1 bytes
};

bool LoadUpdates(const std::string& file, Updates& u) {
  std::ifstream in(file, std::ios::binary);
  char magic[4];
  uint32_t hdr[4];
  if (!in.read(magic, 4) || std::memcmp(magic, "CBU1", 4) != 0) return false;
  if (!in.read(reinterpret_cast<char*>(hdr), sizeof hdr)) return false;
  u.clients = hdr[0];
  u.per_client = hdr[1];
  u.base = hdr[2];
  u.len = hdr[3];
  if (u.len == 0) return false;
  u.by_client.resize(u.clients);
  for (auto& list : u.by_client) {
    list.resize(u.per_client);
    for (auto& upd : list) {
      uint32_t n;
      if (!in.read(reinterpret_cast<char*>(&n), 4) || n > (1u << 20)) return false;
      upd.resize(n);
      if (!in.read(upd.data(), n)) return false;
    }
  }
  return true;
}

// --- per-thread statistics ----------------------------------------------------------------

// Microseconds below 65,536 are exact; above, milliseconds up to 60 s.
constexpr size_t kExact = 65536;
constexpr size_t kBuckets = kExact + 60001;

size_t Bucket(int64_t us) {
  if (us < 0) us = 0;
  if (static_cast<uint64_t>(us) < kExact) return static_cast<size_t>(us);
  return kExact + std::min<size_t>(static_cast<size_t>(us / 1000), 60000);
}

int64_t BucketUs(size_t b) {
  return b < kExact ? static_cast<int64_t>(b) : static_cast<int64_t>(b - kExact) * 1000;
}

struct Stats {
  std::vector<uint64_t> hist = std::vector<uint64_t>(kBuckets);
  uint64_t deliveries = 0;  // counted in the window
  uint64_t sent = 0;        // sent in the window
  uint64_t echoes = 0;
  uint64_t unknown = 0;  // updates this generator did not send (e.g. a server re-encoding merged them)
  uint64_t exhausted = 0;
};

struct Shared {
  const Options* opt;
  const Updates* upd;
  Clock::time_point t0;
  std::vector<std::atomic<int64_t>> sent_ns;  // per (client, seq): send time since t0, 0 = never
  std::atomic<bool> sending{false};
  std::atomic<bool> counting{false};
  std::atomic<int> ready{0};
  std::atomic<int> failed{0};
  std::vector<std::string> doc_names;
  explicit Shared(size_t n) : sent_ns(n) {}
};

class Client;

struct Worker {
  asio::io_context ioc{1};
  Stats stats;
  std::vector<std::shared_ptr<Client>> clients;
  size_t next_connect = 0;
  tcp::resolver::results_type endpoints;
  // One ticker sends every client's due updates: a timer per client would wake the
  // thread once per update, and on a virtual machine wake-ups cost more than the sends.
  asio::steady_timer ticker{ioc};
  Clock::time_point next_tick;
  Clock::duration tick{};
  void ConnectNext();
  void StartSending(const Shared& s);
  void Tick(const Shared& s);
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(Worker& w, Shared& s, int index)
      : w_(w), s_(s), index_(index), doc_(index % s.opt->docs), ws_(w.ioc) {
    const Options& o = *s.opt;
    const std::string& name = s.doc_names[static_cast<size_t>(doc_)];
    if (o.framing == "hocuspocus") PutVarString(prefix_, name);
    // Hocuspocus waits for an Auth message (type 2, token 0) before it opens a document.
    if (o.framing == "hocuspocus") {
      auth_ = prefix_;
      PutVarUint(auth_, 2);
      PutVarUint(auth_, 0);
      PutVarString(auth_, o.token);
    }
    // SyncStep1 with an empty state vector, and SyncStep2 carrying the empty update.
    step1_ = prefix_ + std::string("\x00\x00\x01\x00", 4);
    step2_ = prefix_ + std::string("\x00\x01\x02\x00\x00", 5);
    if (s.opt->mode == "load") {
      const auto& list = s.upd->by_client[static_cast<size_t>(index)];
      frames_.reserve(list.size());
      for (const auto& u : list) {
        std::string f = prefix_;
        PutVarUint(f, 0);
        PutVarUint(f, 2);
        PutVarUint(f, u.size());
        f += u;
        frames_.push_back(std::move(f));
      }
    }
    target_ = o.framing == "hocuspocus" ? o.path : o.path + name;
    if (o.framing != "hocuspocus" && !o.token.empty()) target_ += "?token=" + o.token;
  }

  void Start() {
    auto self = shared_from_this();
    beast::get_lowest_layer(ws_).async_connect(
        w_.endpoints, [self](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return self->Fail("connect", ec);
          beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true));
          self->ws_.binary(true);
          self->ws_.read_message_max(16u << 20);
          const std::string host =
              self->s_.opt->host_header.empty() ? self->s_.opt->host : self->s_.opt->host_header;
          self->ws_.async_handshake(host, self->target_, [self](beast::error_code ec) {
            if (ec) return self->Fail("handshake", ec);
            if (!self->auth_.empty()) self->Send(self->auth_);
            self->Send(self->step1_);
            self->Read();
            self->w_.ConnectNext();
          });
        });
  }

  void StartSending(Clock::time_point now) {
    const double period_us = 1e6 / s_.opt->rate;
    // Spread the clients' phases over one period.
    next_ = now + std::chrono::microseconds(static_cast<int64_t>(period_us * (index_ % 997) / 997.0));
    period_ = std::chrono::microseconds(static_cast<int64_t>(period_us));
  }

  // Sends what is due by `now`; a late tick catches up, so the offered load stays fixed.
  void SendDue(Clock::time_point now) {
    if (frames_.empty()) return;
    while (next_ <= now) {
      SendUpdate();
      next_ += period_;
    }
  }

 private:
  void SendUpdate() {
    if (seq_ >= frames_.size()) {
      w_.stats.exhausted++;
      return;
    }
    const int64_t now = (Clock::now() - s_.t0).count();
    s_.sent_ns[static_cast<size_t>(index_) * s_.upd->per_client + seq_].store(now > 0 ? now : 1,
                                                                              std::memory_order_relaxed);
    if (s_.counting.load(std::memory_order_relaxed)) w_.stats.sent++;
    Send(frames_[seq_++]);
  }

  // Frames are built before the run and outlive the client's writes.
  void Send(const std::string& frame) {
    queue_.push_back(asio::buffer(frame));
    if (!writing_) Write();
  }

  void Write() {
    writing_ = true;
    auto self = shared_from_this();
    ws_.async_write(queue_.front(), [self](beast::error_code ec, size_t) {
      if (ec) return self->Fail("write", ec);
      self->queue_.pop_front();
      if (self->queue_.empty())
        self->writing_ = false;
      else
        self->Write();
    });
  }

  void Read() {
    auto self = shared_from_this();
    ws_.async_read(rx_, [self](beast::error_code ec, size_t) {
      if (ec) return self->Fail("read", ec);
      self->OnMessage(static_cast<const uint8_t*>(self->rx_.data().data()), self->rx_.size());
      self->rx_.consume(self->rx_.size());
      self->Read();
    });
  }

  void OnMessage(const uint8_t* p, size_t n) {
    const uint8_t* end = p + n;
    uint64_t v, type, sub;
    if (!prefix_.empty()) {  // Hocuspocus: skip the document name
      if (!GetVarUint(p, end, v) || v > static_cast<uint64_t>(end - p)) return;
      p += v;
    }
    if (!GetVarUint(p, end, type) || type != 0) return;  // awareness, auth, sync status
    if (!GetVarUint(p, end, sub)) return;
    if (!ready_) {
      ready_ = true;
      s_.ready.fetch_add(1);
    }
    if (sub == 0) return Send(step2_);
    if (sub != 2) return;  // a SyncStep2 carries the document, not one tagged update
    uint64_t len, nclients, nstructs, client, clock;
    if (!GetVarUint(p, end, len) || !GetVarUint(p, end, nclients) || nclients == 0 ||
        !GetVarUint(p, end, nstructs) || !GetVarUint(p, end, client) || !GetVarUint(p, end, clock))
      return;
    const Updates& u = *s_.upd;
    const uint64_t sender = client - u.base;
    const uint64_t seq = clock / u.len;
    if (client < u.base || sender >= u.clients || seq >= u.per_client) {
      w_.stats.unknown++;
      return;
    }
    if (sender == static_cast<uint64_t>(index_)) {
      w_.stats.echoes++;
      return;
    }
    const int64_t sent = s_.sent_ns[sender * u.per_client + seq].load(std::memory_order_relaxed);
    if (sent == 0 || !s_.counting.load(std::memory_order_relaxed)) return;
    const int64_t now = (Clock::now() - s_.t0).count();
    w_.stats.deliveries++;
    w_.stats.hist[Bucket((now - sent) / 1000)]++;
  }

  void Fail(const char* what, beast::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    if (!failed_) {
      failed_ = true;
      if (s_.failed.fetch_add(1) < 5)
        std::cerr << "client " << index_ << ": " << what << ": " << ec.message() << "\n";
      if (!ready_) w_.ConnectNext();
    }
  }

  Worker& w_;
  Shared& s_;
  int index_, doc_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer rx_;
  std::deque<asio::const_buffer> queue_;
  bool writing_ = false, ready_ = false, failed_ = false;
  std::string prefix_, auth_, step1_, step2_, target_;
  std::vector<std::string> frames_;
  size_t seq_ = 0;
  Clock::time_point next_;
  Clock::duration period_{};
};

// Connections open one after another per thread: a burst of a thousand SYNs would
// overflow the server's accept backlog and measure retransmits.
void Worker::ConnectNext() {
  if (next_connect < clients.size()) clients[next_connect++]->Start();
}

void Worker::StartSending(const Shared& s) {
  const auto now = Clock::now();
  for (auto& c : clients) c->StartSending(now);
  tick = std::chrono::microseconds(static_cast<int64_t>(s.opt->tick_ms * 1000));
  next_tick = now;
  Tick(s);
}

void Worker::Tick(const Shared& s) {
  next_tick += tick;
  ticker.expires_at(next_tick);
  ticker.async_wait([this, &s](beast::error_code ec) {
    if (ec || !s.sending.load(std::memory_order_relaxed)) return;
    const auto now = Clock::now();
    for (auto& c : clients) c->SendDue(now);
    Tick(s);
  });
}

// --- the server's processes ----------------------------------------------------------------

double CpuSeconds(const std::vector<int>& pids) {
  static const long tick = sysconf(_SC_CLK_TCK);
  double total = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = s.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(s.substr(close + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 0; i < 13 && fields >> f; i++) {
      if (i == 11) utime = std::stoull(f);
      if (i == 12) stime = std::stoull(f);
    }
    total += static_cast<double>(utime + stime) / static_cast<double>(tick);
  }
  return total;
}

// CPU seconds per process name (/proc/<pid>/comm): where a delivery's cost goes.
std::map<std::string, double> CpuByName(const std::vector<int>& pids) {
  std::map<std::string, double> out;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (!std::getline(in, name)) continue;
    out[name] += CpuSeconds({pid});
  }
  return out;
}

double RssKb(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) total += std::stod(line.substr(6));
  }
  return total;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// --- flags ---------------------------------------------------------------------------------

bool ParseUrl(const std::string& url, Options& o) {
  const std::string scheme = "ws://";
  if (url.rfind(scheme, 0) != 0) return false;
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  o.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return false;
  o.host = hostport.substr(0, colon);
  o.port = hostport.substr(colon + 1);
  return true;
}

int Usage() {
  std::cerr << "usage: collab_bench --url=ws://HOST:PORT/PATH [--framing=hocuspocus|y-websocket]\n"
               "  [--mode=load|memory] [--updates=FILE] [--clients=1000] [--docs=100] [--rate=2]\n"
               "  [--doc-offset=0] [--hold-seconds=0]\n"
               "  [--seconds=20] [--warmup=3] [--tick-ms=2] [--threads=N] [--token=T] [--host-header=H]\n"
               "  [--doc-prefix=bench-] [--doc-ids=FILE] [--server-pid=PID[,PID...]]\n";
  return 2;
}

bool ParseFlags(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) return false;
    std::string k = a.substr(2, eq - 2), v = a.substr(eq + 1);
    if (k == "url") {
      if (!ParseUrl(v, o)) return false;
    } else if (k == "framing") {
      o.framing = v;
    } else if (k == "mode") {
      o.mode = v;
    } else if (k == "updates") {
      o.updates_file = v;
    } else if (k == "clients") {
      o.clients = std::stoi(v);
    } else if (k == "docs") {
      o.docs = std::stoi(v);
    } else if (k == "rate") {
      o.rate = std::stod(v);
    } else if (k == "seconds") {
      o.seconds = std::stod(v);
    } else if (k == "warmup") {
      o.warmup = std::stod(v);
    } else if (k == "tick-ms") {
      o.tick_ms = std::stod(v);
    } else if (k == "threads") {
      o.threads = std::stoi(v);
    } else if (k == "token") {
      o.token = v;
    } else if (k == "host-header") {
      o.host_header = v;
    } else if (k == "doc-prefix") {
      o.doc_prefix = v;
    } else if (k == "doc-ids") {
      o.doc_ids_file = v;
    } else if (k == "doc-offset") {
      o.doc_offset = std::stoi(v);
    } else if (k == "hold-seconds") {
      o.hold_seconds = std::stod(v);
    } else if (k == "server-pid") {
      std::istringstream in(v);
      for (std::string p; std::getline(in, p, ',');) o.server_pids.push_back(std::stoi(p));
    } else {
      return false;
    }
  }
  if (o.framing != "hocuspocus" && o.framing != "y-websocket") return false;
  if (o.mode != "load" && o.mode != "memory") return false;
  if (o.mode == "memory") o.clients = o.docs;  // one idle client per document
  return o.clients > 0 && o.docs > 0 && o.rate > 0 && o.tick_ms > 0 &&
         (o.mode == "memory" || !o.updates_file.empty());
}

void Sleep(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    if (!ParseFlags(argc, argv, o)) return Usage();
  } catch (const std::exception&) {
    return Usage();
  }
  Updates upd;
  if (o.mode == "load") {
    if (!LoadUpdates(o.updates_file, upd)) {
      std::cerr << "cannot read updates from " << o.updates_file << "\n";
      return 1;
    }
    if (upd.clients < static_cast<uint32_t>(o.clients)) {
      std::cerr << "the updates file has " << upd.clients << " clients, " << o.clients << " asked\n";
      return 1;
    }
  } else {
    upd.len = 1;
  }
  Shared shared(static_cast<size_t>(upd.clients) * upd.per_client);
  shared.opt = &o;
  shared.upd = &upd;
  if (!o.doc_ids_file.empty()) {
    std::ifstream in(o.doc_ids_file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) shared.doc_names.push_back(line);
    if (shared.doc_names.size() < static_cast<size_t>(o.doc_offset + o.docs)) {
      std::cerr << "the document list has " << shared.doc_names.size() << " ids, " << o.doc_offset + o.docs
                << " asked\n";
      return 1;
    }
    shared.doc_names.erase(shared.doc_names.begin(), shared.doc_names.begin() + o.doc_offset);
  } else {
    for (int d = 0; d < o.docs; d++)
      shared.doc_names.push_back(o.doc_prefix + std::to_string(o.doc_offset + d));
  }

  const int nthreads =
      o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::unique_ptr<Worker>> workers;
  tcp::resolver resolver(workers.emplace_back(std::make_unique<Worker>())->ioc);
  auto endpoints = resolver.resolve(o.host, o.port);
  for (int t = 1; t < nthreads; t++) workers.push_back(std::make_unique<Worker>());
  for (auto& w : workers) w->endpoints = endpoints;
  for (int c = 0; c < o.clients; c++) {
    Worker& w = *workers[static_cast<size_t>(c % nthreads)];
    w.clients.push_back(std::make_shared<Client>(w, shared, c));
  }

  const double rss_before = RssKb(o.server_pids);
  shared.t0 = Clock::now();
  for (auto& w : workers) asio::post(w->ioc, [wp = w.get()] { wp->ConnectNext(); });
  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& w : workers) {
    guards.push_back(asio::make_work_guard(w->ioc));
    threads.emplace_back([wp = w.get()] { wp->ioc.run(); });
  }

  // Every client has its first sync message, or a minute passed.
  const auto connect_start = Clock::now();
  while (shared.ready.load() + shared.failed.load() < o.clients &&
         Clock::now() - connect_start < std::chrono::seconds(60))
    Sleep(0.05);
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  std::cerr << "connected " << shared.ready.load() << "/" << o.clients << " clients in " << connect_s
            << " s (" << shared.failed.load() << " failed)\n";

  std::ostringstream json;
  json << "{\"mode\":\"" << o.mode << "\",\"framing\":\"" << o.framing << "\",\"clients\":" << o.clients
       << ",\"docs\":" << o.docs << ",\"ready\":" << shared.ready.load()
       << ",\"failed\":" << shared.failed.load();
  if (o.mode == "memory") {
    Sleep(3);  // let the server finish loading and settle its allocator
    const double rss_after = RssKb(o.server_pids);
    json << ",\"rssBeforeKb\":" << rss_before << ",\"rssAfterKb\":" << rss_after
         << ",\"kbPerDoc\":" << (rss_after - rss_before) / std::max(1, shared.ready.load());
  } else {
    shared.sending = true;
    for (auto& w : workers) asio::post(w->ioc, [wp = w.get(), &shared] { wp->StartSending(shared); });
    Sleep(o.warmup);
    const double cpu0 = CpuSeconds(o.server_pids), self0 = SelfCpuSeconds();
    const auto by_name0 = CpuByName(o.server_pids);
    const auto m0 = Clock::now();
    shared.counting = true;
    Sleep(o.seconds);
    shared.counting = false;
    const double elapsed = std::chrono::duration<double>(Clock::now() - m0).count();
    const double cpu1 = CpuSeconds(o.server_pids), self1 = SelfCpuSeconds();
    const auto by_name1 = CpuByName(o.server_pids);
    const double rss = RssKb(o.server_pids);
    shared.sending = false;
    Sleep(0.5);
    Stats total;
    // The workers' counters are read after they stop touching them: stop the loops first.
    for (auto& w : workers) w->ioc.stop();
    for (auto& t : threads) t.join();
    threads.clear();
    for (auto& w : workers) {
      total.deliveries += w->stats.deliveries;
      total.sent += w->stats.sent;
      total.echoes += w->stats.echoes;
      total.unknown += w->stats.unknown;
      total.exhausted += w->stats.exhausted;
      for (size_t b = 0; b < kBuckets; b++) total.hist[b] += w->stats.hist[b];
    }
    auto pct = [&](double q) -> double {
      const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total.deliveries));
      uint64_t seen = 0;
      for (size_t b = 0; b < kBuckets; b++) {
        seen += total.hist[b];
        if (seen > want) return static_cast<double>(BucketUs(b)) / 1000.0;
      }
      return -1;
    };
    const double dps = static_cast<double>(total.deliveries) / elapsed;
    const double cpu = cpu1 - cpu0;
    json << ",\"rate\":" << o.rate << ",\"seconds\":" << elapsed
         << ",\"sentPerSec\":" << static_cast<double>(total.sent) / elapsed << ",\"deliveriesPerSec\":" << dps
         << ",\"p50Ms\":" << pct(0.5) << ",\"p99Ms\":" << pct(0.99) << ",\"maxMs\":" << pct(1.0 - 1e-12)
         << ",\"echoes\":" << total.echoes << ",\"unknown\":" << total.unknown
         << ",\"exhausted\":" << total.exhausted << ",\"serverCpuS\":" << cpu
         << ",\"serverCpuUsPerDelivery\":"
         << (total.deliveries ? cpu * 1e6 / static_cast<double>(total.deliveries) : 0)
         << ",\"serverRssKb\":" << rss << ",\"generatorCpuS\":" << self1 - self0
         << ",\"serverCpuSByProcess\":{";
    bool first = true;
    for (const auto& [name, s1] : by_name1) {
      auto before = by_name0.find(name);
      json << (first ? "" : ",") << "\"" << name
           << "\":" << s1 - (before == by_name0.end() ? 0 : before->second);
      first = false;
    }
    json << "}";
    if (total.exhausted)
      std::cerr << "warning: clients ran out of pre-generated updates " << total.exhausted << " times\n";
  }
  json << "}";
  std::cout << json.str() << std::endl;
  // A later run measures what documents beyond these cost (collab_bench.mjs).
  if (o.mode == "memory" && o.hold_seconds > 0) Sleep(o.hold_seconds);
  // Close the sockets on their own threads, then leave without waiting for close handshakes.
  std::cout.flush();
  _exit(0);
}
