// The all-in-one binary (DESIGN "All-in-one"): identity, access, action, blob, collab, the admin API and
// the gateway in one process, the services on an in-process gRPC channel (no network,
// so no credentials apply there). The admin API still listens on the network and
// still requires mutual TLS with the `admin` identity. The same service classes as
// the split binaries; only this wiring differs.
//
//   cloudillo-allinone [migrate] [--flag=value ...]
#include <prometheus/registry.h>

#include "access_config.h"
#include "access_service.h"
#include "action_config.h"
#include "action_service.h"
#include "admin_http.h"
#include "admin_service.h"
#include "attachments.h"
#include "blob_config.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/federation/client.h"
#include "cloudillo/federation/key_resolver.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/process/readiness.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/rpc/server.h"
#include "collab_config.h"
#include "collab_service.h"
#include "file_access.h"
#include "gateway.h"
#include "history_sync.h"
#include "identity_config.h"
#include "identity_policy.h"
#include "identity_service.h"
#include "image_variants.h"
#include "remote_files.h"

namespace cloudillo::identity {
const std::vector<db::Migration>& Migrations();
}
namespace cloudillo::access {
const std::vector<db::Migration>& Migrations();
}
namespace cloudillo::action {
const std::vector<db::Migration>& Migrations();
}
namespace cloudillo::blob {
const std::vector<db::Migration>& Migrations();
}
namespace cloudillo::collab {
const std::vector<db::Migration>& Migrations();
}

using namespace cloudillo;

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  bool migrate = process::TakeMigrateCommand(argc, argv);
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto store = process::LoadStoreConfig(src);
  auto proc = process::LoadProcessConfig(src, "127.0.0.1:9200");
  InitLogging("allinone");
  auto id_cfg = identity::IdentityConfig::Load(src);
  auto ac_cfg = access::AccessConfig::Load(src);
  auto gw_cfg = gateway::GatewayConfig::Load(src);
  auto act_cfg = action::ActionConfig::Load(src);
  auto fed_cfg = federation::ClientConfig::Load(src);
  auto blob_cfg = blob::BlobConfig::Load(src);
  auto collab_cfg = collab::CollabConfig::Load(src);
  auto master = process::LoadMasterKey(src);
  auto tls = rpc::ClusterTls::Load(src, !migrate);
  auto& redis_cfg = store.redis;
  if (src.help_requested()) {
    std::printf("cloudillo-allinone [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!gw_cfg.ok()) return process::StartupFailure("configuration", gw_cfg.status());
  if (!master.ok()) return process::StartupFailure("master key", master.status());
  if (!redis_cfg.ok()) return process::StartupFailure("Redis", redis_cfg.status());

  auto id_pool = db::Pool::Connect(store.database_url, store.db_pool_size, "identity");
  if (!id_pool.ok()) return process::StartupFailure("database", id_pool.status());
  auto ac_pool = db::Pool::Connect(store.database_url, store.db_pool_size, "access");
  if (!ac_pool.ok()) return process::StartupFailure("database", ac_pool.status());
  auto act_pool = db::Pool::Connect(store.database_url, store.db_pool_size, "action");
  if (!act_pool.ok()) return process::StartupFailure("database", act_pool.status());
  auto blob_pool = db::Pool::Connect(store.database_url, store.db_pool_size, "blob");
  if (!blob_pool.ok()) return process::StartupFailure("database", blob_pool.status());
  auto collab_pool = db::Pool::Connect(store.database_url, store.db_pool_size, "collab");
  if (!collab_pool.ok()) return process::StartupFailure("database", collab_pool.status());
  const std::tuple<std::shared_ptr<db::Pool>, const char*, const std::vector<db::Migration>*> schemas[] = {
      {*id_pool, "identity", &identity::Migrations()},
      {*ac_pool, "access", &access::Migrations()},
      {*act_pool, "action", &action::Migrations()},
      {*blob_pool, "blob", &blob::Migrations()},
      {*collab_pool, "collab", &collab::Migrations()}};
  for (const auto& [pool, schema, m] : schemas) {
    absl::Status st = migrate ? db::Migrate(*pool, schema, *m) : db::CheckCurrent(*pool, schema, *m);
    if (!st.ok()) return process::StartupFailure(migrate ? "migrate" : "schema", st);
    if (migrate) LogInfo("migrated", {{"schema", schema}});
  }
  if (migrate) {
    FlushLogs();
    return 0;
  }
  if (absl::Status st = tls.Validate(); !st.ok()) return process::StartupFailure("internal TLS", st);
  auto fed_client = federation::Client::Create(fed_cfg);
  if (!fed_client.ok()) return process::StartupFailure("CLOUDILLO_FEDERATION_MAP", fed_client.status());
  auto redis = cache::Redis::Create(*redis_cfg);
  auto registry = std::make_shared<prometheus::Registry>();
  (*id_pool)->ExportMetrics(*registry, "identity");
  (*ac_pool)->ExportMetrics(*registry, "access");
  (*act_pool)->ExportMetrics(*registry, "action");
  (*blob_pool)->ExportMetrics(*registry, "blob");

  rpc::WorkerPool workers({"services", proc.worker_threads, proc.worker_queue, 0, registry.get()});
  rpc::WorkerPool password_workers(
      {"password", ac_cfg.password_hash_slots, size_t(ac_cfg.password_hash_slots) * 2, 19, registry.get()});
  identity::IdentityService identity_service(*id_pool, redis, *master, Clock::Real(), workers);
  identity::AdminService admin(*id_pool, redis, *master, Clock::Real(), id_cfg.admin_token, workers);
  access::AccessService access_service(*ac_pool, redis, *master, Clock::Real(), {ac_cfg.login_failure_delay},
                                       workers, password_workers);
  if (absl::Status st = access_service.Init(); !st.ok())
    return process::StartupFailure("API key hashing key", st);
  action::ActionStore action_store(*act_pool);
  action::TxBatcher action_commits(**act_pool, 32, 1024, registry.get());
  action_store.BatchCommits(&action_commits);
  auto fed_keys = federation::KeyResolver::Create(*fed_client, redis, {});
  action::Pipeline pipeline(action_store, nullptr, fed_keys, redis, Clock::Real());
  action::TenantCache tenant_cache(Clock::Real(), {absl::Seconds(act_cfg.tenant_cache_seconds)},
                                   registry.get());
  pipeline.UseCache(&tenant_cache);
  action::OutboxWorker outbox(action_store, pipeline, *fed_client,
                              {act_cfg.outbox_threads, act_cfg.per_destination, 8, absl::Milliseconds(200),
                               absl::Seconds(act_cfg.outbox_lease_seconds)},
                              registry.get());
  action::PowGate pow(redis);
  action::InboxOptions inbox_opts;
  inbox_opts.threads = act_cfg.inbox_threads;
  inbox_opts.batch = act_cfg.inbox_batch;
  inbox_opts.queue.max_queue = size_t(act_cfg.inbox_queue);
  inbox_opts.queue.flushers = size_t(act_cfg.inbox_commits);
  inbox_opts.nice = act_cfg.inbox_verifier_nice;
  action::InboxWorker inbox(action_store, pipeline, pow, inbox_opts, registry.get());
  // Federation traffic per tenant for the admin API's usage calls.
  cache::UsageRecorder usage(redis, Clock::Real());
  outbox.CountUsage(&usage);
  inbox.CountUsage(&usage);
  action::HistorySync history(action_store, pipeline, *fed_client, Clock::Real(), {});
  history.Attach(pipeline, outbox);
  action::AttachmentFetcher attachments(nullptr, nullptr, *fed_client, pipeline.ProxySigner());
  attachments.AttachTo(pipeline);
  action::BusHub bus(act_cfg.bus, registry.get());
  action::ActionService action_service(action_store, pipeline, outbox, inbox, redis, Clock::Real(), workers,
                                       &bus, act_cfg.issuer_limits);
  if (!blob::InitImaging())
    return process::StartupFailure("libvips", absl::InternalError("vips_init failed"));
  auto blob_store = blob_cfg.OpenStore();
  if (!blob_store.ok()) return process::StartupFailure("blob store", blob_store.status());
  blob::BlobMetrics blob_metrics(*registry);
  blob::BlobService blob_service(*blob_pool, std::move(*blob_store), blob_cfg.options, workers, blob_metrics);
  blob::FileAccessService file_access(*blob_pool, workers, &blob_service.relations());
  collab::DocStore collab_store(*collab_pool);
  collab::DocHub collab_hub(collab_store, redis, workers, collab_cfg.hub, registry.get());
  collab::AccessCheck collab_access;
  collab::CollabService collab_service(collab_hub, collab_access, workers, collab_cfg.socket, registry.get());
  collab::rtdb::RtdbStore rtdb_store(*collab_pool, collab::rtdb::Limits{});
  collab::rtdb::RtdbHub rtdb_hub(
      [redis](const std::string& ch, std::string msg) {
        redis->CommandAsync({"PUBLISH", ch, std::move(msg)}, [](absl::StatusOr<cache::Reply>) {});
      },
      collab::rtdb::Limits{});
  collab_service.EnableRtdb(rtdb_store, rtdb_hub);
  // The shared outbound client: its body bound (16 MiB by default) caps one variant.
  blob::RemoteFileService remote_files(blob_service, *blob_pool, *fed_client, {blob_cfg.remote_max_bytes});
  rpc::RpcServer services(registry);
  services.AddService(&action_service);
  services.AddService(&blob_service);
  blob::BlobInternalService blob_internal(blob_service, *blob_pool, workers);
  services.AddService(&blob_internal);
  services.AddService(&file_access);
  services.AddService(&collab_service);
  services.AddService(&remote_files);
  services.KeepLongStreams();  // /ws/bus, /ws/crdt and /ws/rtdb sockets
  services.AddService(identity_service.internal_service());
  services.AddService(identity_service.edge_service());
  services.AddService(access_service.internal_service());
  services.AddService(access_service.edge_service());
  if (auto st = services.Start("", nullptr); !st.ok()) return process::StartupFailure("gRPC", st.status());
  auto channel = services.InProcessChannel();
  admin.ConnectAccess(channel);
  admin.ConnectBlob(channel);
  admin.OnProfileChange([&identity_service](int64_t tn) { identity_service.profiles().Forget(tn); });
  access_service.ConnectIdentity(channel);
  access_service.ConnectFederation(*fed_client, fed_keys);
  pipeline.ConnectIdentity(cloudillo::v1::Identity::NewStub(channel));
  attachments.ConnectBlob(cloudillo::v1::RemoteFiles::NewStub(channel),
                          cloudillo::v1::BlobInternal::NewStub(channel));
  usage.Start();
  outbox.Start();
  inbox.Start();
  blob_service.ConnectIdentity(channel);
  collab_access.Connect(cloudillo::v1::Blob::NewStub(channel));
  history.Start();
  rpc::RpcServer admin_server(registry);
  admin_server.AddService(&admin);
  auto admin_port = admin_server.Start(
      id_cfg.admin_addr,
      rpc::ServerCredentials(tls, std::make_shared<rpc::AccessPolicy>(identity::AdminListenerPolicy())));
  if (!admin_port.ok()) return process::StartupFailure("admin gRPC", admin_port.status());
  identity::AdminHttp admin_http(admin, workers);
  auto admin_http_server = identity::StartAdminHttp(id_cfg.admin_http_addr, admin_http);
  if (!admin_http_server.ok()) return process::StartupFailure("admin HTTP", admin_http_server.status());

  gateway::GatewayBackends backends;
  backends.directory.identity = cloudillo::v1::Identity::NewStub(channel);
  backends.directory.access = cloudillo::v1::Access::NewStub(channel);
  backends.channels = {{"identity", channel},
                       {"access", channel},
                       {"action", channel},
                       {"blob", channel},
                       {"collab", channel}};
  int http_port = gw_cfg->http_port, https_port = gw_cfg->https_port;
  gateway::Gateway gw(std::move(*gw_cfg), std::move(backends), redis, registry, Clock::Real());
  // One subscription for the process: invalidations, and every tenant's bus channel.
  cache::Subscriber::Options topics;
  topics.patterns = {action::kBusPattern, collab::DocHub::kPattern, collab::rtdb::RtdbHub::kPattern};
  cache::Subscriber subscriber(
      *redis_cfg, {cache::kInvalidationChannel},
      [&](const std::string& channel, const std::string& msg) {
        if (channel.rfind("crdt:", 0) == 0) return collab_hub.Deliver(channel, msg);
        if (channel.rfind("rtdb:", 0) == 0) return (void)rtdb_hub.Deliver(channel, msg);
        if (channel != cache::kInvalidationChannel) return (void)bus.Deliver(channel, msg);
        gw.OnInvalidation(msg);
        identity_service.profiles().OnInvalidation(msg);
        tenant_cache.OnInvalidation(msg);
        blob_service.relations().OnInvalidation(msg);
      },
      [&] {
        tenant_cache.Clear();
        blob_service.relations().Clear();
        gw.OnSubscriberReset();
        collab_hub.OnSubscriberReset();
        identity_service.profiles().Clear();
      },
      topics);
  subscriber.Start();
  collab_hub.Start();
  gw.Start();
  auto http = http::HttpServer::Start(gw.ServerOptions(http_port, false));
  if (!http.ok()) return process::StartupFailure("HTTP listener", http.status());
  std::unique_ptr<http::HttpServer> https;
  if (https_port != 0) {
    auto s = http::HttpServer::Start(gw.ServerOptions(https_port, true));
    if (!s.ok()) return process::StartupFailure("HTTPS listener", s.status());
    https = std::move(*s);
  }
  process::Readiness readiness(registry);
  readiness.AddDependency("postgres", [&] { return (*id_pool)->Ping(); });
  readiness.AddDependency("redis", [&] { return redis->Ping(); });
  auto ops_addr = process::SplitHostPort(proc.ops_addr);
  if (!ops_addr.ok()) return process::StartupFailure("CLOUDILLO_OPS_ADDR", ops_addr.status());
  auto ops = http::StartOpsServer({ops_addr->first, ops_addr->second, registry,
                                   [&] { return readiness.Status(); }, [&] { return readiness.Details(); }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  readiness.Start();
  LogInfo("started", {{"http_port", (*http)->port()},
                      {"https_port", https ? https->port() : 0},
                      {"admin_port", *admin_port},
                      {"admin_http_port", *admin_http_server ? (*admin_http_server)->port() : 0},
                      {"ops_port", (*ops)->port()}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  readiness.SetDraining();
  absl::SleepFor(proc.drain_delay);
  bus.CloseAll(action::kBusCloseRestart);
  collab_service.CloseAll(collab::kCloseRestart);
  http::StopTogether({http->get(), https.get()}, proc.shutdown_grace);
  gw.Stop();
  subscriber.Stop();
  collab_hub.Stop();
  outbox.Stop();
  inbox.Stop();
  usage.Stop();
  history.Stop();
  process::RunTogether({[&] { admin_server.Shutdown(proc.shutdown_grace); },
                        [&] { services.Shutdown(proc.shutdown_grace); },
                        [&] {
                          if (*admin_http_server) (*admin_http_server)->Stop(proc.shutdown_grace);
                        }});
  workers.Shutdown();
  password_workers.Shutdown();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  FlushLogs();
  return 0;
}
