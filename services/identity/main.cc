// The identity service binary: `cloudillo-identity [migrate] [--flag=value ...]`.
#include <prometheus/registry.h>

#include "admin_http.h"
#include "admin_service.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/process/readiness.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/rpc/server.h"
#include "identity_config.h"
#include "identity_policy.h"
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
  auto proc = process::LoadProcessConfig(src, "127.0.0.1:9201");
  InitLogging("identity");
  auto cfg = identity::IdentityConfig::Load(src);
  auto master = process::LoadMasterKey(src);
  auto tls = rpc::ClusterTls::Load(src, !migrate);
  auto& redis_cfg = store.redis;
  if (src.help_requested()) {
    std::printf("cloudillo-identity [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!master.ok()) return process::StartupFailure("master key", master.status());
  if (!redis_cfg.ok()) return process::StartupFailure("Redis", redis_cfg.status());

  auto pool = db::Pool::Connect(store.database_url, store.db_pool_size, "identity");
  if (!pool.ok()) return process::StartupFailure("database", pool.status());
  if (migrate) {
    absl::Status st = db::Migrate(**pool, "identity", identity::Migrations());
    if (!st.ok()) return process::StartupFailure("migrate", st);
    LogInfo("migrated", {{"schema", "identity"}});
    FlushLogs();
    return 0;
  }
  if (absl::Status st = db::CheckCurrent(**pool, "identity", identity::Migrations()); !st.ok()) {
    return process::StartupFailure("schema", st);
  }
  if (absl::Status st = tls.Validate(); !st.ok()) return process::StartupFailure("internal TLS", st);
  auto listen = process::ListenAddress(cfg.identity_addr, cfg.grpc_listen);
  if (!listen.ok()) return process::StartupFailure("gRPC listen address", listen.status());
  auto redis = cache::Redis::Create(*redis_cfg);
  auto registry = std::make_shared<prometheus::Registry>();
  (*pool)->ExportMetrics(*registry, "identity");

  rpc::WorkerPool workers({"identity", proc.worker_threads, proc.worker_queue, 0, registry.get()});
  identity::IdentityService service(*pool, redis, *master, Clock::Real(), workers);
  identity::AdminService admin(*pool, redis, *master, Clock::Real(), cfg.admin_token, workers);
  admin.ConnectAccess(rpc::ConnectChannel(cfg.access_addr, &tls, "access"));
  admin.ConnectBlob(rpc::ConnectChannel(cfg.blob_addr, &tls, "blob"));
  admin.OnProfileChange([&service](int64_t tn) { service.profiles().Forget(tn); });
  // Profiles changed through another replica are dropped here too.
  cache::Subscriber subscriber(
      *redis_cfg, {cache::kInvalidationChannel},
      [&](const std::string&, const std::string& msg) { service.profiles().OnInvalidation(msg); },
      [&] { service.profiles().Clear(); });
  subscriber.Start();

  rpc::RpcServer server(registry);
  server.AddService(service.internal_service());
  server.AddService(service.edge_service());
  auto port = server.Start(
      *listen, rpc::ServerCredentials(tls, std::make_shared<rpc::AccessPolicy>(identity::ListenerPolicy())));
  if (!port.ok()) return process::StartupFailure("gRPC", port.status());
  rpc::RpcServer admin_server(registry);
  admin_server.AddService(&admin);
  auto admin_port = admin_server.Start(
      cfg.admin_addr,
      rpc::ServerCredentials(tls, std::make_shared<rpc::AccessPolicy>(identity::AdminListenerPolicy())));
  if (!admin_port.ok()) return process::StartupFailure("admin gRPC", admin_port.status());
  identity::AdminHttp admin_http(admin, workers);
  auto admin_http_server = identity::StartAdminHttp(cfg.admin_http_addr, admin_http);
  if (!admin_http_server.ok()) return process::StartupFailure("admin HTTP", admin_http_server.status());

  process::Readiness readiness(registry);
  readiness.AddDependency("postgres", [&] { return (*pool)->Ping(); });
  readiness.AddDependency("redis", [&] { return redis->Ping(); });
  auto ops_addr = process::SplitHostPort(proc.ops_addr);
  if (!ops_addr.ok()) return process::StartupFailure("CLOUDILLO_OPS_ADDR", ops_addr.status());
  auto ops = http::StartOpsServer({ops_addr->first, ops_addr->second, registry,
                                   [&] { return readiness.Status(); }, [&] { return readiness.Details(); }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  readiness.Start();
  LogInfo("started", {{"grpc", *listen},
                      {"admin_port", *admin_port},
                      {"admin_http_port", *admin_http_server ? (*admin_http_server)->port() : 0},
                      {"ops_port", (*ops)->port()},
                      {"identity", tls.identity}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  readiness.SetDraining();
  absl::SleepFor(proc.drain_delay);
  process::RunTogether({[&] { admin_server.Shutdown(proc.shutdown_grace); },
                        [&] { server.Shutdown(proc.shutdown_grace); },
                        [&] {
                          if (*admin_http_server) (*admin_http_server)->Stop(proc.shutdown_grace);
                        }});
  workers.Shutdown();
  subscriber.Stop();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  FlushLogs();
  return 0;
}
