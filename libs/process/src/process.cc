#include "cloudillo/process/process.h"

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"

namespace cloudillo::process {

StoreConfig LoadStoreConfig(ConfigSource& src) {
  StoreConfig c;
  c.database_url =
      src.Required("CLOUDILLO_DATABASE_URL", "PostgreSQL connection URL (postgresql://user@host:port/db)");
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
  c.log_level = src.Str("CLOUDILLO_LOG_LEVEL", "info", "debug | info | warn | error");
  LogLevel level = c.log_level == "debug"   ? LogLevel::kDebug
                   : c.log_level == "warn"  ? LogLevel::kWarn
                   : c.log_level == "error" ? LogLevel::kError
                                            : LogLevel::kInfo;
  SetLogLevel(level);
  return c;
}

absl::StatusOr<crypto::MasterKey> LoadMasterKey(ConfigSource& src) {
  std::string inline_key = src.Str("CLOUDILLO_MASTER_KEY", "", "32 random bytes, standard base64 (secret!)");
  std::string file = src.Str("CLOUDILLO_MASTER_KEY_FILE", "", "file holding CLOUDILLO_MASTER_KEY");
  std::string text = inline_key;
  if (text.empty() && !file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::InvalidArgumentError("CLOUDILLO_MASTER_KEY_FILE '" + file + "' cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    text = std::string(SV(absl::StripAsciiWhitespace(ss.str())));
  }
  if (text.empty()) {
    return absl::InvalidArgumentError(
        "no master key: set CLOUDILLO_MASTER_KEY or CLOUDILLO_MASTER_KEY_FILE (make one with `openssl rand "
        "-base64 32`)");
  }
  return crypto::MasterKey::FromBase64(text);
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

std::string ListenAddress(const std::string& addr, const std::string& listen_override) {
  if (!listen_override.empty()) return listen_override;
  size_t colon = addr.rfind(':');
  return "0.0.0.0" + (colon == std::string::npos ? std::string(":0") : addr.substr(colon));
}

bool TakeMigrateCommand(int& argc, char**& argv) {
  if (argc < 2 || std::string(argv[1]) != "migrate") return false;
  argv[1] = argv[0];
  --argc;
  ++argv;
  return true;
}

void BlockShutdownSignals() {
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
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return 2;
}

}  // namespace cloudillo::process
