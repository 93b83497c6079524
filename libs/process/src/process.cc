#include "cloudillo/process/process.h"

#include <arpa/inet.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/numbers.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::process {

StoreConfig LoadStoreConfig(ConfigSource& src) {
  StoreConfig c;
  // A URL may carry a password: a secret (environment or CLOUDILLO_DATABASE_URL_FILE).
  c.database_url = src.RequiredSecret("CLOUDILLO_DATABASE_URL",
                                      "PostgreSQL connection URL (postgresql://user[:password]@host:port/db)");
  c.db_pool_size = int(src.Int("CLOUDILLO_DB_POOL_SIZE", 16, 1, 512, "PostgreSQL connections per process"));
  c.redis = cache::RedisConfig::Load(src);
  return c;
}

ProcessConfig LoadProcessConfig(ConfigSource& src, const std::string& default_ops_addr) {
  ProcessConfig c;
  c.ops_addr =
      src.Str("CLOUDILLO_OPS_ADDR", default_ops_addr, "listen address of /metrics, /healthz, /readyz");
  c.shutdown_grace = absl::Seconds(src.Int("CLOUDILLO_SHUTDOWN_GRACE_SECONDS", 10, 0, 600,
                                           "how long in-flight work may finish after SIGTERM"));
  c.drain_delay = absl::Seconds(src.Int("CLOUDILLO_DRAIN_DELAY_SECONDS", 5, 0, 300,
                                        "after SIGTERM, how long to keep serving with /readyz failing, so load "
                                        "balancers stop sending before the listeners close"));
  c.worker_threads = int(src.Int("CLOUDILLO_WORKER_THREADS", 16, 1, 1024,
                                 "threads for handlers that wait on PostgreSQL (services)"));
  c.worker_queue = size_t(src.Int("CLOUDILLO_WORKER_QUEUE", 1000, 1, 1000000,
                                  "calls that may wait for a worker; beyond, 503 E-SYS-UNAVAIL at once"));
  c.log_level = src.Str("CLOUDILLO_LOG_LEVEL", "info", "debug | info | warn | error");
  LogLevel level = c.log_level == "debug"   ? LogLevel::kDebug
                   : c.log_level == "warn"  ? LogLevel::kWarn
                   : c.log_level == "error" ? LogLevel::kError
                                            : LogLevel::kInfo;
  SetLogLevel(level);
  return c;
}

absl::StatusOr<crypto::MasterKey> LoadMasterKey(ConfigSource& src) {
  // A secret: from the environment or a file, never from a flag (ConfigSource::Secret).
  std::string text = src.Secret("CLOUDILLO_MASTER_KEY",
                                "master keyring: `<version>:<base64 of 32 bytes>` entries, one a line");
  std::string file = src.Str("CLOUDILLO_MASTER_KEY_FILE", "", "file holding the master keyring, one key a line");
  std::string from = file.empty() ? "CLOUDILLO_MASTER_KEY" : "CLOUDILLO_MASTER_KEY_FILE '" + file + "'";
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(
        "no master key: set CLOUDILLO_MASTER_KEY or CLOUDILLO_MASTER_KEY_FILE (make one with `openssl rand "
        "-base64 32`)");
  }
  auto key = crypto::MasterKey::FromText(text);
  if (!key.ok()) {
    return absl::Status(
        key.status().code(),
        from + ": " + std::string(key.status().message()) +
            ". To rotate, prepend `2:<new key>` as a new line (or comma-separated entry); old "
            "versions stay until `cloudillo-admin rotate-master-key` has resealed everything");
  }
  return key;
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& addr) {
  size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(AV(std::string_view(addr).substr(colon + 1)), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError("'" + addr + "' is not host:port");
  }
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, port);
}

absl::StatusOr<std::string> ListenAddress(const std::string& addr, const std::string& listen_override) {
  if (!listen_override.empty()) {
    CL_RETURN_IF_ERROR(SplitHostPort(listen_override).status());
    return listen_override;
  }
  CL_ASSIGN_OR_RETURN(auto hp, SplitHostPort(addr));
  // Bind only what was named: an IP literal or localhost. A service name (Kubernetes)
  // resolves to something else, so the listen address must then be given.
  unsigned char buf[16];
  bool literal = inet_pton(AF_INET, hp.first.c_str(), buf) == 1 || inet_pton(AF_INET6, hp.first.c_str(), buf) == 1;
  if (literal || hp.first == "localhost") return addr;
  return absl::InvalidArgumentError("'" + addr +
                                    "' is not an address this process can bind: set CLOUDILLO_GRPC_LISTEN "
                                    "(e.g. 0.0.0.0:" +
                                    std::to_string(hp.second) + " in a pod)");
}

bool TakeMigrateCommand(int& argc, char**& argv) {
  if (argc < 2 || std::string(argv[1]) != "migrate") return false;
  argv[1] = argv[0];
  --argc;
  ++argv;
  return true;
}

void BlockShutdownSignals() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

int StartupFailure(const std::string& what, const absl::Status& status) {
  LogError("startup_failed", {{"what", what}, {"error", std::string(status.message())}});
  FlushLogs();
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return 2;
}

}  // namespace cloudillo::process
