// The identity service binary: `cloudillo-identity [migrate] [--flag=value ...]`.
#include <prometheus/registry.h>

#include "admin_service.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/rpc/server.h"
#include "identity_config.h"
#include "identity_service.h"

namespace cloudillo::identity {
const std::vector<db::Migration>& Migrations();
}

using namespace cloudillo;

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  bool migrate = process::TakeMigrateCommand(argc, argv);
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto store = process::LoadStoreConfig(src);
  auto proc = process::LoadProcessConfig(src, "0.0.0.0:9201");
  InitLogging("identity");
  auto cfg = identity::IdentityConfig::Load(src);
  auto master = process::LoadMasterKey(src);
  if (src.help_requested()) {
    std::printf("cloudillo-identity [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!master.ok()) return process::StartupFailure("master key", master.status());

  auto pool = db::Pool::Connect(store.database_url, store.db_pool_size, "identity");
  if (!pool.ok()) return process::StartupFailure("database", pool.status());
  if (migrate) {
    absl::Status st = db::Migrate(**pool, "identity", identity::Migrations());
    if (!st.ok()) return process::StartupFailure("migrate", st);
    LogInfo("migrated", {{"schema", "identity"}});
    return 0;
  }
  if (absl::Status st = db::CheckCurrent(**pool, "identity", identity::Migrations()); !st.ok()) {
    return process::StartupFailure("schema", st);
  }
  if (!store.redis.ok()) return process::StartupFailure("Redis configuration", store.redis.status());
  auto redis = cache::Redis::Create(*store.redis);
  auto registry = std::make_shared<prometheus::Registry>();

  identity::IdentityService service(*pool, redis, *master, Clock::Real());
  identity::AdminService admin(*pool, redis, *master, Clock::Real(), cfg.admin_token);
  admin.ConnectAccess(rpc::ConnectChannel(cfg.access_addr));
  admin.OnProfileChange([&service](int64_t tn) { service.ForgetProfile(tn); });

  rpc::RpcServer server(registry);
  server.AddService(&service);
  auto port = server.Start(process::ListenAddress(cfg.identity_addr, cfg.grpc_listen));
  if (!port.ok()) return process::StartupFailure("gRPC", port.status());
  rpc::RpcServer admin_server(registry);
  admin_server.AddService(&admin);
  auto admin_port = admin_server.Start(cfg.admin_addr);
  if (!admin_port.ok()) return process::StartupFailure("admin gRPC", admin_port.status());

  std::atomic<bool> draining{false};
  auto ops_addr = process::SplitHostPort(proc.ops_addr);
  if (!ops_addr.ok()) return process::StartupFailure("CLOUDILLO_OPS_ADDR", ops_addr.status());
  auto ops = http::StartOpsServer({ops_addr->first, ops_addr->second, registry, [&]() -> absl::Status {
                                     if (draining) return absl::UnavailableError("draining");
                                     if (auto st = (*pool)->Ping(); !st.ok()) return st;
                                     return redis->Ping();
                                   }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  LogInfo("started", {{"grpc_port", *port}, {"admin_port", *admin_port}, {"ops_port", (*ops)->port()}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  draining = true;
  admin_server.Shutdown(proc.shutdown_grace);
  server.Shutdown(proc.shutdown_grace);
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  return 0;
}
