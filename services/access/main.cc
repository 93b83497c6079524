// The access service binary: `cloudillo-access [migrate] [--flag=value ...]`.
#include <prometheus/registry.h>

#include "access_config.h"
#include "access_service.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/rpc/server.h"

namespace cloudillo::access {
const std::vector<db::Migration>& Migrations();
}

using namespace cloudillo;

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  bool migrate = process::TakeMigrateCommand(argc, argv);
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto store = process::LoadStoreConfig(src);
  auto proc = process::LoadProcessConfig(src, "0.0.0.0:9202");
  InitLogging("access");
  auto cfg = access::AccessConfig::Load(src);
  auto master = process::LoadMasterKey(src);
  if (src.help_requested()) {
    std::printf("cloudillo-access [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!master.ok()) return process::StartupFailure("master key", master.status());

  auto pool = db::Pool::Connect(store.database_url, store.db_pool_size, "access");
  if (!pool.ok()) return process::StartupFailure("database", pool.status());
  if (migrate) {
    absl::Status st = db::Migrate(**pool, "access", access::Migrations());
    if (!st.ok()) return process::StartupFailure("migrate", st);
    LogInfo("migrated", {{"schema", "access"}});
    return 0;
  }
  if (absl::Status st = db::CheckCurrent(**pool, "access", access::Migrations()); !st.ok()) {
    return process::StartupFailure("schema", st);
  }
  if (!store.redis.ok()) return process::StartupFailure("Redis configuration", store.redis.status());
  auto redis = cache::Redis::Create(*store.redis);
  auto registry = std::make_shared<prometheus::Registry>();

  access::AccessService service(*pool, redis, *master, Clock::Real(), {cfg.login_failure_delay});
  service.ConnectIdentity(rpc::ConnectChannel(cfg.identity_addr));
  rpc::RpcServer server(registry);
  server.AddService(&service);
  auto port = server.Start(process::ListenAddress(cfg.access_addr, cfg.grpc_listen));
  if (!port.ok()) return process::StartupFailure("gRPC", port.status());

  std::atomic<bool> draining{false};
  auto ops_addr = process::SplitHostPort(proc.ops_addr);
  if (!ops_addr.ok()) return process::StartupFailure("CLOUDILLO_OPS_ADDR", ops_addr.status());
  auto ops = http::StartOpsServer({ops_addr->first, ops_addr->second, registry, [&]() -> absl::Status {
                                     if (draining) return absl::UnavailableError("draining");
                                     if (auto st = (*pool)->Ping(); !st.ok()) return st;
                                     return redis->Ping();
                                   }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  LogInfo("started", {{"grpc_port", *port}, {"ops_port", (*ops)->port()}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  draining = true;
  server.Shutdown(proc.shutdown_grace);
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  return 0;
}
