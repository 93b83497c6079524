// The access service binary: `cloudillo-access [migrate] [--flag=value ...]`.
#include <prometheus/registry.h>

#include "access_config.h"
#include "access_policy.h"
#include "access_service.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/federation/key_resolver.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/process/readiness.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
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
  auto proc = process::LoadProcessConfig(src, "127.0.0.1:9202");
  InitLogging("access");
  auto cfg = access::AccessConfig::Load(src);
  auto master = process::LoadMasterKey(src);
  // Egress for the PROXY exchange (§3.4): issuer keys in, our PROXY tokens out.
  auto fed_cfg = federation::ClientConfig::Load(src);
  auto tls = rpc::ClusterTls::Load(src, !migrate);
  auto& redis_cfg = store.redis;
  if (src.help_requested()) {
    std::printf("cloudillo-access [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!master.ok()) return process::StartupFailure("master key", master.status());
  if (!redis_cfg.ok()) return process::StartupFailure("Redis", redis_cfg.status());

  auto pool = db::Pool::Connect(store.database_url, store.db_pool_size, "access");
  if (!pool.ok()) return process::StartupFailure("database", pool.status());
  if (migrate) {
    absl::Status st = db::Migrate(**pool, "access", access::Migrations());
    if (!st.ok()) return process::StartupFailure("migrate", st);
    LogInfo("migrated", {{"schema", "access"}});
    FlushLogs();
    return 0;
  }
  if (absl::Status st = db::CheckCurrent(**pool, "access", access::Migrations()); !st.ok()) {
    return process::StartupFailure("schema", st);
  }
  if (absl::Status st = tls.Validate(); !st.ok()) return process::StartupFailure("internal TLS", st);
  auto listen = process::ListenAddress(cfg.access_addr, cfg.grpc_listen);
  if (!listen.ok()) return process::StartupFailure("gRPC listen address", listen.status());
  auto fed_client = federation::Client::Create(fed_cfg);
  if (!fed_client.ok()) return process::StartupFailure("CLOUDILLO_FEDERATION_MAP", fed_client.status());
  auto redis = cache::Redis::Create(*redis_cfg);
  auto registry = std::make_shared<prometheus::Registry>();
  (*pool)->ExportMetrics(*registry, "access");

  rpc::WorkerPool workers({"access", proc.worker_threads, proc.worker_queue, 0, registry.get()});
  // Argon2id: as many at once as the memory budget allows, at the lowest CPU priority.
  rpc::WorkerPool password_workers(
      {"password", cfg.password_hash_slots, size_t(cfg.password_hash_slots) * 2, 19, registry.get()});
  access::AccessService service(*pool, redis, *master, Clock::Real(), {cfg.login_failure_delay}, workers,
                                password_workers);
  if (absl::Status st = service.Init(); !st.ok()) return process::StartupFailure("API key hashing key", st);
  service.ConnectIdentity(rpc::ConnectChannel(cfg.identity_addr, &tls, "identity"));
  service.ConnectFederation(*fed_client, federation::KeyResolver::Create(*fed_client, redis, {}));
  rpc::RpcServer server(registry);
  server.AddService(service.internal_service());
  server.AddService(service.edge_service());
  auto port = server.Start(
      *listen, rpc::ServerCredentials(tls, std::make_shared<rpc::AccessPolicy>(access::ListenerPolicy())));
  if (!port.ok()) return process::StartupFailure("gRPC", port.status());

  process::Readiness readiness(registry);
  readiness.AddDependency("postgres", [&] { return (*pool)->Ping(); });
  readiness.AddDependency("redis", [&] { return redis->Ping(); });
  auto ops_addr = process::SplitHostPort(proc.ops_addr);
  if (!ops_addr.ok()) return process::StartupFailure("CLOUDILLO_OPS_ADDR", ops_addr.status());
  auto ops = http::StartOpsServer({ops_addr->first, ops_addr->second, registry,
                                   [&] { return readiness.Status(); }, [&] { return readiness.Details(); }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  readiness.Start();
  LogInfo("started", {{"grpc", *listen}, {"ops_port", (*ops)->port()}, {"identity", tls.identity}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  readiness.SetDraining();
  absl::SleepFor(proc.drain_delay);
  server.Shutdown(proc.shutdown_grace);
  workers.Shutdown();
  password_workers.Shutdown();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  FlushLogs();
  return 0;
}
