// The gateway binary: `cloudillo-gateway [--flag=value ...]`.
#include <prometheus/registry.h>

#include "cloudillo/cache/invalidation.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/process/readiness.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "gateway.h"

using namespace cloudillo;

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto proc = process::LoadProcessConfig(src, "127.0.0.1:9200");
  InitLogging("gateway");
  auto cfg = gateway::GatewayConfig::Load(src);
  auto tls = rpc::ClusterTls::Load(src);
  if (src.help_requested()) {
    std::printf("cloudillo-gateway\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!cfg.ok()) return process::StartupFailure("configuration", cfg.status());
  if (absl::Status st = tls.Validate(); !st.ok()) return process::StartupFailure("internal TLS", st);
  cache::RedisConfig redis_cfg = cfg->redis;
  auto redis = cache::Redis::Create(redis_cfg);
  auto registry = std::make_shared<prometheus::Registry>();

  auto identity = rpc::ConnectChannel(cfg->identity_addr, &tls, "identity");
  auto access = rpc::ConnectChannel(cfg->access_addr, &tls, "access");
  auto action = rpc::ConnectChannel(cfg->action_addr, &tls, "action");
  gateway::GatewayBackends backends;
  backends.directory.identity = cloudillo::v1::Identity::NewStub(identity);
  backends.directory.access = cloudillo::v1::Access::NewStub(access);
  backends.channels = {{"identity", identity}, {"access", access}, {"action", action}};
  backends.channels["blob"] = rpc::ConnectChannel(cfg->blob_addr, &tls, "blob");
  backends.channels["collab"] = rpc::ConnectChannel(cfg->collab_addr, &tls, "collab");

  int http_port = cfg->http_port, https_port = cfg->https_port;
  gateway::Gateway gw(std::move(*cfg), std::move(backends), redis, registry, Clock::Real());
  cache::Subscriber subscriber(
      redis_cfg, {cache::kInvalidationChannel},
      [&](const std::string&, const std::string& msg) { gw.OnInvalidation(msg); },
      [&] { gw.OnSubscriberReset(); });
  subscriber.Start();
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
  readiness.AddDependency("redis", [&] { return redis->Ping(); });
  auto ops_addr = process::SplitHostPort(proc.ops_addr);
  if (!ops_addr.ok()) return process::StartupFailure("CLOUDILLO_OPS_ADDR", ops_addr.status());
  auto ops = http::StartOpsServer({ops_addr->first, ops_addr->second, registry,
                                   [&] { return readiness.Status(); }, [&] { return readiness.Details(); }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  readiness.Start();
  LogInfo("started", {{"http_port", (*http)->port()},
                      {"https_port", https ? https->port() : 0},
                      {"ops_port", (*ops)->port()},
                      {"identity", tls.identity}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  // Readiness off first, so load balancers stop sending; then both listeners close at
  // once and in-flight requests get the grace period.
  readiness.SetDraining();
  absl::SleepFor(proc.drain_delay);
  http::StopTogether({http->get(), https.get()}, proc.shutdown_grace);
  gw.Stop();
  subscriber.Stop();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  FlushLogs();
  return 0;
}
