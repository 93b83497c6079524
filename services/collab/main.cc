// The collab service binary: `cloudillo-collab [migrate] [--flag=value ...]`.
#include <prometheus/registry.h>

#include "access_check.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/process/readiness.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/rpc/server.h"
#include "collab_config.h"
#include "collab_policy.h"
#include "collab_service.h"
#include "hub.h"
#include "store.h"

namespace cloudillo::collab {
const std::vector<db::Migration>& Migrations();
}

using namespace cloudillo;

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  bool migrate = process::TakeMigrateCommand(argc, argv);
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto store_cfg = process::LoadStoreConfig(src);
  auto proc = process::LoadProcessConfig(src, "127.0.0.1:9205");
  InitLogging("collab");
  auto cfg = collab::CollabConfig::Load(src);
  auto tls = rpc::ClusterTls::Load(src, !migrate);
  auto& redis_cfg = store_cfg.redis;
  if (src.help_requested()) {
    std::printf("cloudillo-collab [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!redis_cfg.ok()) return process::StartupFailure("Redis", redis_cfg.status());

  auto pool = db::Pool::Connect(store_cfg.database_url, store_cfg.db_pool_size, "collab");
  if (!pool.ok()) return process::StartupFailure("database", pool.status());
  if (migrate) {
    absl::Status st = db::Migrate(**pool, "collab", collab::Migrations());
    if (!st.ok()) return process::StartupFailure("migrate", st);
    LogInfo("migrated", {{"schema", "collab"}});
    FlushLogs();
    return 0;
  }
  if (absl::Status st = db::CheckCurrent(**pool, "collab", collab::Migrations()); !st.ok()) {
    return process::StartupFailure("schema", st);
  }
  if (absl::Status st = tls.Validate(); !st.ok()) return process::StartupFailure("internal TLS", st);
  auto listen = process::ListenAddress(cfg.collab_addr, cfg.grpc_listen);
  if (!listen.ok()) return process::StartupFailure("gRPC listen address", listen.status());
  auto redis = cache::Redis::Create(*redis_cfg);
  auto registry = std::make_shared<prometheus::Registry>();

  rpc::WorkerPool workers({"collab", proc.worker_threads, proc.worker_queue, 0, registry.get()});
  collab::DocStore store(*pool);
  collab::DocHub hub(store, redis, workers, cfg.hub, registry.get());
  collab::AccessCheck access;
  access.Connect(cloudillo::v1::Blob::NewStub(rpc::ConnectChannel(cfg.blob_addr, &tls, "blob")));
  collab::CollabService service(hub, access, workers, cfg.socket, registry.get());
  collab::rtdb::RtdbStore rtdb_store(*pool, collab::rtdb::Limits{});
  collab::rtdb::RtdbHub rtdb_hub(
      [redis](const std::string& ch, std::string msg) {
        redis->CommandAsync({"PUBLISH", ch, std::move(msg)}, [](absl::StatusOr<cache::Reply>) {});
      },
      collab::rtdb::Limits{});
  service.EnableRtdb(rtdb_store, rtdb_hub);
  // One pattern subscription per engine for every document's channel, fanned out in
  // process.
  cache::Subscriber::Options topics;
  topics.patterns = {collab::DocHub::kPattern, collab::rtdb::RtdbHub::kPattern};
  cache::Subscriber sub(
      *redis_cfg, {},
      [&hub, &rtdb_hub](const std::string& ch, const std::string& msg) {
        if (ch.rfind("rtdb:", 0) == 0) return (void)rtdb_hub.Deliver(ch, msg);
        hub.Deliver(ch, msg);
      },
      [&hub] { hub.OnSubscriberReset(); }, topics);
  rpc::RpcServer server(registry);
  server.AddService(&service);
  server.KeepLongStreams();  // /ws/crdt and /ws/rtdb sockets
  auto port = server.Start(
      *listen, rpc::ServerCredentials(tls, std::make_shared<rpc::AccessPolicy>(collab::ListenerPolicy())));
  if (!port.ok()) return process::StartupFailure("gRPC", port.status());
  sub.Start();
  hub.Start();

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
  // Sockets never end by themselves: close them (clients reconnect to another replica;
  // every acknowledged update is in the log already).
  service.CloseAll(collab::kCloseRestart);
  server.Shutdown(proc.shutdown_grace);
  sub.Stop();
  hub.Stop();
  workers.Shutdown();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  FlushLogs();
  return 0;
}
