// The blob service binary: `cloudillo-blob [migrate] [--flag=value ...]`.
#include <malloc.h>
#include <prometheus/registry.h>

#include "blob_config.h"
#include "blob_policy.h"
#include "blob_service.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/process/readiness.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/rpc/server.h"
#include "file_access.h"
#include "image_variants.h"
#include "remote_files.h"

namespace cloudillo::blob {
const std::vector<db::Migration>& Migrations();
}

using namespace cloudillo;

int main(int argc, char** argv) {
  // Chunks of every upload and download pass between gRPC's threads and the workers.
  // glibc would raise its mmap threshold after the first freed chunk and keep such
  // buffers in per-thread arenas; a fixed threshold returns them to the kernel, so
  // resident memory follows the transfers in flight, not the largest burst so far.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_ARENA_MAX, 4);
  process::BlockShutdownSignals();
  bool migrate = process::TakeMigrateCommand(argc, argv);
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto store_cfg = process::LoadStoreConfig(src);
  auto proc = process::LoadProcessConfig(src, "127.0.0.1:9204");
  InitLogging("blob");
  auto cfg = blob::BlobConfig::Load(src);
  auto fed_cfg = federation::ClientConfig::Load(src);
  auto tls = rpc::ClusterTls::Load(src, !migrate);
  auto& redis_cfg = store_cfg.redis;
  if (src.help_requested()) {
    std::printf("cloudillo-blob [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!redis_cfg.ok()) return process::StartupFailure("Redis", redis_cfg.status());

  auto pool = db::Pool::Connect(store_cfg.database_url, store_cfg.db_pool_size, "blob");
  if (!pool.ok()) return process::StartupFailure("database", pool.status());
  if (migrate) {
    absl::Status st = db::Migrate(**pool, "blob", blob::Migrations());
    if (!st.ok()) return process::StartupFailure("migrate", st);
    LogInfo("migrated", {{"schema", "blob"}});
    FlushLogs();
    return 0;
  }
  if (absl::Status st = db::CheckCurrent(**pool, "blob", blob::Migrations()); !st.ok()) {
    return process::StartupFailure("schema", st);
  }
  if (absl::Status st = tls.Validate(); !st.ok()) return process::StartupFailure("internal TLS", st);
  auto listen = process::ListenAddress(cfg.blob_addr, cfg.grpc_listen);
  if (!listen.ok()) return process::StartupFailure("gRPC listen address", listen.status());
  if (!blob::InitImaging())
    return process::StartupFailure("libvips", absl::InternalError("vips_init failed"));
  auto store = cfg.OpenStore();
  if (!store.ok()) return process::StartupFailure("blob store", store.status());
  auto registry = std::make_shared<prometheus::Registry>();
  (*pool)->ExportMetrics(*registry, "blob");

  rpc::WorkerPool workers({"blob", proc.worker_threads, proc.worker_queue, 0, registry.get()});
  blob::BlobMetrics metrics(*registry);
  blob::BlobService service(*pool, std::move(*store), cfg.options, workers, metrics);
  service.ConnectIdentity(rpc::ConnectChannel(cfg.identity_addr, &tls, "identity"));
  // identity's word that a tenant's follows, connections or blocks changed reaches the
  // relationships kept for F and C files at once (relationship_gate.h).
  cache::Subscriber invalidations(
      *redis_cfg, {cache::kInvalidationChannel},
      [&service](const std::string&, const std::string& msg) { service.relations().OnInvalidation(msg); },
      [&service] { service.relations().Clear(); });
  // Each remote body is held whole while it is hashed: bounded by the largest file.
  fed_cfg.max_body = size_t(cfg.remote_max_bytes);
  auto fed_client = federation::Client::Create(fed_cfg);
  if (!fed_client.ok()) return process::StartupFailure("CLOUDILLO_FEDERATION_MAP", fed_client.status());
  blob::RemoteFileService remote(service, *pool, *fed_client, {cfg.remote_max_bytes});
  rpc::RpcServer server(registry);
  blob::FileAccessService file_access(*pool, workers, &service.relations());
  server.AddService(&service);
  blob::BlobInternalService internal(service, *pool, workers);
  server.AddService(&internal);
  server.AddService(&file_access);
  server.AddService(&remote);
  auto port = server.Start(
      *listen, rpc::ServerCredentials(tls, std::make_shared<rpc::AccessPolicy>(blob::ListenerPolicy())));
  if (!port.ok()) return process::StartupFailure("gRPC", port.status());
  invalidations.Start();

  process::Readiness readiness(registry);
  readiness.AddDependency("postgres", [&] { return (*pool)->Ping(); });
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
  invalidations.Stop();
  workers.Shutdown();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  FlushLogs();
  return 0;
}
