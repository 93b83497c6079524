// The all-in-one binary (DESIGN "All-in-one"): identity, access, the admin API and
// the gateway in one process, the services on an in-process gRPC channel. The same
// service classes as the split binaries; only this wiring differs.
//
//   cloudillo-allinone [migrate] [--flag=value ...]
#include <prometheus/registry.h>

#include "access_config.h"
#include "access_service.h"
#include "admin_service.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/log.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/rpc/server.h"
#include "gateway.h"
#include "identity_config.h"
#include "identity_service.h"

namespace cloudillo::identity {
const std::vector<db::Migration>& Migrations();
}
namespace cloudillo::access {
const std::vector<db::Migration>& Migrations();
}

using namespace cloudillo;

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  bool migrate = process::TakeMigrateCommand(argc, argv);
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto store = process::LoadStoreConfig(src);
  auto proc = process::LoadProcessConfig(src, "0.0.0.0:9200");
  InitLogging("allinone");
  auto id_cfg = identity::IdentityConfig::Load(src);
  auto ac_cfg = access::AccessConfig::Load(src);
  auto gw_cfg = gateway::GatewayConfig::Load(src);
  auto master = process::LoadMasterKey(src);
  if (src.help_requested()) {
    std::printf("cloudillo-allinone [migrate]\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!gw_cfg.ok()) return process::StartupFailure("configuration", gw_cfg.status());
  if (!master.ok()) return process::StartupFailure("master key", master.status());

  auto id_pool = db::Pool::Connect(store.database_url, store.db_pool_size, "identity");
  if (!id_pool.ok()) return process::StartupFailure("database", id_pool.status());
  auto ac_pool = db::Pool::Connect(store.database_url, store.db_pool_size, "access");
  if (!ac_pool.ok()) return process::StartupFailure("database", ac_pool.status());
  if (migrate) {
    for (auto [pool, schema, m] : {std::make_tuple(*id_pool, "identity", &identity::Migrations()),
                                   std::make_tuple(*ac_pool, "access", &access::Migrations())}) {
      absl::Status st = db::Migrate(*pool, schema, *m);
      if (!st.ok()) return process::StartupFailure("migrate", st);
      LogInfo("migrated", {{"schema", schema}});
    }
    return 0;
  }
  for (auto [pool, schema, m] : {std::make_tuple(*id_pool, "identity", &identity::Migrations()),
                                 std::make_tuple(*ac_pool, "access", &access::Migrations())}) {
    if (absl::Status st = db::CheckCurrent(*pool, schema, *m); !st.ok())
      return process::StartupFailure("schema", st);
  }
  if (!store.redis.ok()) return process::StartupFailure("Redis configuration", store.redis.status());
  auto redis = cache::Redis::Create(*store.redis);
  auto registry = std::make_shared<prometheus::Registry>();

  identity::IdentityService identity_service(*id_pool, redis, *master, Clock::Real());
  identity::AdminService admin(*id_pool, redis, *master, Clock::Real(), id_cfg.admin_token);
  access::AccessService access_service(*ac_pool, redis, *master, Clock::Real(), {ac_cfg.login_failure_delay});
  rpc::RpcServer services(registry);
  services.AddService(&identity_service);
  services.AddService(&access_service);
  if (auto st = services.Start(""); !st.ok()) return process::StartupFailure("gRPC", st.status());
  auto channel = services.InProcessChannel();
  admin.ConnectAccess(channel);
  admin.OnProfileChange([&identity_service](int64_t tn) { identity_service.ForgetProfile(tn); });
  access_service.ConnectIdentity(channel);
  rpc::RpcServer admin_server(registry);
  admin_server.AddService(&admin);
  auto admin_port = admin_server.Start(id_cfg.admin_addr);
  if (!admin_port.ok()) return process::StartupFailure("admin gRPC", admin_port.status());

  gateway::Backends backends;
  backends.identity = cloudillo::v1::Identity::NewStub(channel);
  backends.access = cloudillo::v1::Access::NewStub(channel);
  int http_port = gw_cfg->http_port, https_port = gw_cfg->https_port;
  gateway::Gateway gw(std::move(*gw_cfg), std::move(backends), redis, registry, Clock::Real());
  cache::Subscriber subscriber(
      *store.redis, {cache::kInvalidationChannel},
      [&](const std::string&, const std::string& msg) { gw.directory().Invalidate(msg); },
      [&] { gw.directory().Clear(); });
  subscriber.Start();
  auto http = http::HttpServer::Start(gw.ServerOptions(http_port, false));
  if (!http.ok()) return process::StartupFailure("HTTP listener", http.status());
  std::unique_ptr<http::HttpServer> https;
  if (https_port != 0) {
    auto s = http::HttpServer::Start(gw.ServerOptions(https_port, true));
    if (!s.ok()) return process::StartupFailure("HTTPS listener", s.status());
    https = std::move(*s);
  }
  std::atomic<bool> draining{false};
  auto ops_addr = process::SplitHostPort(proc.ops_addr);
  if (!ops_addr.ok()) return process::StartupFailure("CLOUDILLO_OPS_ADDR", ops_addr.status());
  auto ops = http::StartOpsServer({ops_addr->first, ops_addr->second, registry, [&]() -> absl::Status {
                                     if (draining) return absl::UnavailableError("draining");
                                     if (auto st = (*id_pool)->Ping(); !st.ok()) return st;
                                     return redis->Ping();
                                   }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  LogInfo("started", {{"http_port", (*http)->port()},
                      {"https_port", https ? https->port() : 0},
                      {"admin_port", *admin_port},
                      {"ops_port", (*ops)->port()}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  draining = true;
  (*http)->Stop(proc.shutdown_grace);
  if (https) https->Stop(proc.shutdown_grace);
  subscriber.Stop();
  admin_server.Shutdown(proc.shutdown_grace);
  services.Shutdown(proc.shutdown_grace);
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  return 0;
}
