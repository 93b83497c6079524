// What every service binary does around its service classes: read the shared
// configuration (database, Redis, master key, ops and gRPC addresses, drain time),
// wait for SIGTERM/SIGINT, and report readiness. Kept apart from the service classes
// so that main.cc files and the all-in-one binary only wire things together
// (EXAMPLES.md item 5).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/config.h"
#include "cloudillo/crypto/master_key.h"

namespace cloudillo::process {

struct StoreConfig {
  std::string database_url;
  int db_pool_size = 8;
  absl::StatusOr<cache::RedisConfig> redis = cache::RedisConfig();  // CLOUDILLO_REDIS_*
};

struct ProcessConfig {
  std::string ops_addr;  // host:port for /metrics, /healthz, /readyz
  absl::Duration shutdown_grace;  // in-flight work may finish this long once listeners close
  absl::Duration drain_delay;     // readiness off, still serving, before listeners close
  int worker_threads = 16;        // rpc::WorkerPool of services
  size_t worker_queue = 1000;
  std::string log_level;
};

StoreConfig LoadStoreConfig(ConfigSource& src);
ProcessConfig LoadProcessConfig(ConfigSource& src, const std::string& default_ops_addr);

// The master keyring (crypto::MasterKey::FromText: one entry a line or comma-separated)
// from CLOUDILLO_MASTER_KEY, else from the file named by CLOUDILLO_MASTER_KEY_FILE.
// InvalidArgument for a missing, unreadable or malformed keyring, with a message saying
// how to make a key and how to add a version; never with key material.
absl::StatusOr<crypto::MasterKey> LoadMasterKey(ConfigSource& src);

// "host:port" -> (host, port); InvalidArgument otherwise.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& addr);
// Where a service listens: `listen_override` (CLOUDILLO_GRPC_LISTEN) when set, else
// its own address when that is an IP literal or localhost; InvalidArgument otherwise.
absl::StatusOr<std::string> ListenAddress(const std::string& addr, const std::string& listen_override);

// Removes a leading `migrate` subcommand from argv; true when it was there.
bool TakeMigrateCommand(int& argc, char**& argv);

// Blocks SIGTERM/SIGINT in the calling thread and all threads it starts later, so
// call this first in main(); WaitForShutdownSignal() then returns on either signal.
// It also switches off Abseil's mutex deadlock detection, which Debian's Abseil
// leaves on and which gRPC's mutexes pay for on every lock (several per call).
void BlockShutdownSignals();
int WaitForShutdownSignal();

// Prints `status` as a startup error (JSON log line and plain stderr) and returns 2.
int StartupFailure(const std::string& what, const absl::Status& status);

}  // namespace cloudillo::process
