// Test helpers that stand up what the shared fixture cannot: private redis-server
// processes (restarts, AUTH, TLS, Sentinel), certificates made with the openssl command
// line, and a TCP proxy that can go silent. Everything lives in one temporary folder
// (mode 755) that is removed, with every process killed, when the owner goes away, also
// when an assertion fails half-way.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace cloudillo::cache::testing {

// Polls `done` every 10 ms until it holds or `timeout` passes; returns its last value.
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// A free loopback TCP port (bound and released; good enough for tests).
int FreePort();
// True once something accepts TCP connections on 127.0.0.1:port.
bool Listening(int port);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  void Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// One redis-server (or sentinel) process, killed with SIGKILL on Kill() or destruction.
class LocalRedis {
 public:
  // Runs `redis-server <args...>` with --port `port` (or, with `tls_port`, --port 0
  // --tls-port), --bind 127.0.0.1, no persistence and a per-process log file, and waits
  // up to 10 s until the port accepts connections. `conf` (if non-empty) is written to
  // a config file passed first (Sentinel needs one it can rewrite).
  LocalRedis(const TempDir& dir, std::string name, int port, std::vector<std::string> args,
             std::string conf = "", bool sentinel = false, bool tls_port = false);
  ~LocalRedis();
  LocalRedis(const LocalRedis&) = delete;
  LocalRedis& operator=(const LocalRedis&) = delete;

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Log() const;
  void Kill();
  // Starts the same process again (same port, same arguments).
  void Restart();

 private:
  void Spawn();
  std::string log_file_;
  std::vector<std::string> argv_;
  int port_;
  pid_t pid_ = -1;
};

// CA, server and client certificates (EC P-256) under dir: <prefix>ca.crt/.key,
// <prefix>server.crt/.key (SAN DNS:localhost, IP:127.0.0.1), <prefix>client.crt/.key.
void MakeCertificates(const TempDir& dir, const std::string& prefix);

// Forwards 127.0.0.1:port() to 127.0.0.1:target. Freeze() stops moving bytes in both
// directions while keeping every connection open: a peer that went silent.
class TcpProxy {
 public:
  explicit TcpProxy(int target);
  ~TcpProxy();
  int port() const { return port_; }
  void Freeze(bool frozen) { frozen_ = frozen; }

 private:
  void Run();
  int target_;
  int port_ = 0;
  int listener_ = -1;
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cloudillo::cache::testing
