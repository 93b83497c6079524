#include "local_redis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace cloudillo::cache::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void Run(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

}  // namespace

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = Loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool Listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = Loopback(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/cloudillo-cache-test.XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::Write(const std::string& name, const std::string& content) const {
  std::ofstream(File(name)) << content;
}

LocalRedis::LocalRedis(const TempDir& dir, std::string name, int port, std::vector<std::string> args,
                       std::string conf, bool sentinel, bool tls_port)
    : log_file_(dir.File(name + ".log")), port_(port) {
  argv_ = {"redis-server"};
  if (!conf.empty()) {
    dir.Write(name + ".conf", conf);
    argv_.push_back(dir.File(name + ".conf"));
  }
  if (sentinel) argv_.push_back("--sentinel");
  std::filesystem::create_directories(dir.File(name));
  argv_.insert(argv_.end(), {"--bind", "127.0.0.1", "--dir", dir.File(name)});
  if (!sentinel) argv_.insert(argv_.end(), {"--save", "", "--appendonly", "no"});
  if (tls_port) {
    argv_.insert(argv_.end(), {"--port", "0", "--tls-port", std::to_string(port)});
  } else {
    argv_.insert(argv_.end(), {"--port", std::to_string(port)});
  }
  argv_.insert(argv_.end(), args.begin(), args.end());
  Spawn();
}

LocalRedis::~LocalRedis() { Kill(); }

void LocalRedis::Spawn() {
  // Everything the child needs is prepared before fork(): other threads may hold the
  // allocator's lock, so the child only makes system calls.
  std::vector<char*> argv;
  for (auto& a : argv_) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no server behind
    if (getppid() != parent) _exit(1);
    int fd = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Listening(port_)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited: " + Log());
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("redis-server did not listen");
    usleep(10000);
  }
}

void LocalRedis::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  // The port is free once the process is gone (SIGKILL leaves no TIME_WAIT on a listener).
}

void LocalRedis::Restart() {
  Kill();
  Spawn();
}

std::string LocalRedis::Log() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void MakeCertificates(const TempDir& dir, const std::string& prefix) {
  std::string d = dir.path() + "/" + prefix;
  std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  dir.Write(prefix + "server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  dir.Write(prefix + "client.ext", "extendedKeyUsage=clientAuth\n");
  std::string quiet = " >/dev/null 2>&1";
  Run("openssl req -x509 " + key + " -keyout " + d + "ca.key -out " + d +
      "ca.crt -days 2 -subj /CN=" + prefix + "test-ca" + quiet);
  for (const char* who : {"server", "client"}) {
    std::string w = d + who;
    Run("openssl req " + key + " -keyout " + w + ".key -out " + w +
        ".csr -subj /CN=" + (std::string(who) == "server" ? "localhost" : "cloudillo-client") + quiet);
    Run("openssl x509 -req -in " + w + ".csr -CA " + d + "ca.crt -CAkey " + d +
        "ca.key -CAcreateserial -out " + w + ".crt -days 2 -extfile " + w + ".ext" + quiet);
  }
}

TcpProxy::TcpProxy(int target) : target_(target) {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(0);
  bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(listener_, 16);
  socklen_t len = sizeof a;
  getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  thread_.join();
  close(listener_);
}

void TcpProxy::Run() {
  std::map<int, int> peer;  // fd -> the fd its bytes go to
  auto drop = [&](int fd) {
    int other = peer[fd];
    close(fd);
    close(other);
    peer.erase(fd);
    peer.erase(other);
  };
  while (!stop_) {
    std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
    if (!frozen_) {
      for (auto& [fd, _] : peer) fds.push_back({fd, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), 20) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int client = accept(listener_, nullptr, nullptr);
      int upstream = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = Loopback(target_);
      if (client >= 0 && connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        peer[client] = upstream;
        peer[upstream] = client;
      } else {
        if (client >= 0) close(client);
        close(upstream);
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents || !peer.count(fds[i].fd)) continue;
      char buf[16384];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0 || write(peer[fds[i].fd], buf, size_t(n)) != n) drop(fds[i].fd);
    }
  }
  for (auto& [fd, _] : peer) close(fd);
}

}  // namespace cloudillo::cache::testing
