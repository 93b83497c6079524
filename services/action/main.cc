// The action service binary: `cloudillo-action [migrate] [--flag=value ...]`.
#include <prometheus/registry.h>

#include "action_config.h"
#include "action_policy.h"
#include "action_service.h"
#include "attachments.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/cache/usage.h"
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
#include "history_sync.h"

namespace cloudillo::action {
const std::vector<db::Migration>& Migrations();
}

using namespace cloudillo;

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  bool migrate = process::TakeMigrateCommand(argc, argv);
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto store_cfg = process::LoadStoreConfig(src);
  auto proc = process::LoadProcessConfig(src, "127.0.0.1:9203");
  InitLogging("action");
  auto cfg = action::ActionConfig::Load(src);
  auto fed_cfg = federation::ClientConfig::Load(src);
  auto tls = rpc::ClusterTls::Load(src, !migrate);
  auto& redis_cfg = store_cfg.redis;
  if (src.help_requested()) {
    std::printf("cloudillo-action [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!redis_cfg.ok()) return process::StartupFailure("Redis", redis_cfg.status());

  auto pool = db::Pool::Connect(store_cfg.database_url, store_cfg.db_pool_size, "action");
  if (!pool.ok()) return process::StartupFailure("database", pool.status());
  if (migrate) {
    absl::Status st = db::Migrate(**pool, "action", action::Migrations());
    if (!st.ok()) return process::StartupFailure("migrate", st);
    LogInfo("migrated", {{"schema", "action"}});
    FlushLogs();
    return 0;
  }
  if (absl::Status st = db::CheckCurrent(**pool, "action", action::Migrations()); !st.ok()) {
    return process::StartupFailure("schema", st);
  }
  if (absl::Status st = tls.Validate(); !st.ok()) return process::StartupFailure("internal TLS", st);
  auto listen = process::ListenAddress(cfg.action_addr, cfg.grpc_listen);
  if (!listen.ok()) return process::StartupFailure("gRPC listen address", listen.status());
  auto client = federation::Client::Create(fed_cfg);
  if (!client.ok()) return process::StartupFailure("CLOUDILLO_FEDERATION_MAP", client.status());
  auto redis = cache::Redis::Create(*redis_cfg);
  auto registry = std::make_shared<prometheus::Registry>();
  (*pool)->ExportMetrics(*registry, "action");

  rpc::WorkerPool workers({"action", proc.worker_threads, proc.worker_queue, 0, registry.get()});
  std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity =
      cloudillo::v1::Identity::NewStub(rpc::ConnectChannel(cfg.identity_addr, &tls, "identity"));
  auto keys = federation::KeyResolver::Create(*client, redis, {});
  action::ActionStore store(*pool);
  // Received actions of concurrent verifiers share commits (declared before the
  // workers that use it, so it outlives them).
  action::TxBatcher store_commits(**pool, 32, 1024, registry.get());
  store.BatchCommits(&store_commits);
  action::Pipeline pipeline(store, identity, keys, redis, Clock::Real());
  action::TenantCache tenant_cache(Clock::Real(), {absl::Seconds(cfg.tenant_cache_seconds)}, registry.get());
  pipeline.UseCache(&tenant_cache);
  action::OutboxWorker outbox(store, pipeline, *client,
                              {cfg.outbox_threads, cfg.per_destination, 8, absl::Milliseconds(200),
                               absl::Seconds(cfg.outbox_lease_seconds)},
                              registry.get());
  action::PowGate pow(redis);
  action::InboxOptions inbox_opts;
  inbox_opts.threads = cfg.inbox_threads;
  inbox_opts.batch = cfg.inbox_batch;
  inbox_opts.queue.max_queue = size_t(cfg.inbox_queue);
  inbox_opts.queue.flushers = size_t(cfg.inbox_commits);
  inbox_opts.nice = cfg.inbox_verifier_nice;
  action::InboxWorker inbox(store, pipeline, pow, inbox_opts, registry.get());
  // Federation traffic per tenant for the admin API's usage calls.
  cache::UsageRecorder usage(redis, Clock::Real());
  outbox.CountUsage(&usage);
  inbox.CountUsage(&usage);
  action::HistorySync history(store, pipeline, *client, Clock::Real(), {});
  history.Attach(pipeline, outbox);
  auto blob_channel = rpc::ConnectChannel(cfg.blob_addr, &tls, "blob");
  action::AttachmentFetcher attachments(cloudillo::v1::RemoteFiles::NewStub(blob_channel),
                                        cloudillo::v1::BlobInternal::NewStub(blob_channel), *client,
                                        pipeline.ProxySigner());
  attachments.AttachTo(pipeline);
  // The bus: one pattern subscription for every tenant's channel, fanned out in process;
  // on the same connection, identity's invalidations for the tenant cache.
  action::BusHub bus(cfg.bus, registry.get());
  cache::Subscriber::Options bus_topics;
  bus_topics.patterns = {action::kBusPattern};
  cache::Subscriber bus_sub(
      *redis_cfg, {cache::kInvalidationChannel},
      [&](const std::string& ch, const std::string& msg) {
        if (ch == cache::kInvalidationChannel) return tenant_cache.OnInvalidation(msg);
        bus.Deliver(ch, msg);
      },
      [&tenant_cache] { tenant_cache.Clear(); }, bus_topics);
  action::ActionService service(store, pipeline, outbox, inbox, redis, Clock::Real(), workers, &bus,
                                cfg.issuer_limits);
  rpc::RpcServer server(registry);
  server.AddService(&service);
  server.KeepLongStreams();  // /ws/bus sockets
  auto port = server.Start(
      *listen, rpc::ServerCredentials(tls, std::make_shared<rpc::AccessPolicy>(action::ListenerPolicy())));
  if (!port.ok()) return process::StartupFailure("gRPC", port.status());
  usage.Start();
  outbox.Start();
  inbox.Start();
  history.Start();
  bus_sub.Start();

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
  // Bus sockets never end by themselves: close them (clients reconnect elsewhere) so
  // that the grace below is spent on unary calls.
  bus.CloseAll(action::kBusCloseRestart);
  server.Shutdown(proc.shutdown_grace);
  bus_sub.Stop();
  // Leased rows a stopped worker did not finish become due again after the lease.
  outbox.Stop();
  inbox.Stop();
  usage.Stop();
  history.Stop();
  workers.Shutdown();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  FlushLogs();
  return 0;
}
