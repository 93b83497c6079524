// The gateway binary: `cloudillo-gateway [--flag=value ...]`.
#include <prometheus/registry.h>

#include "cloudillo/cache/invalidation.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "cloudillo/http/ops.h"
#include "cloudillo/process/process.h"
#include "cloudillo/rpc/server.h"
#include "gateway.h"
#include "grpc/health/v1/health.grpc.pb.h"

using namespace cloudillo;

namespace {
absl::Status Healthy(grpc::health::v1::Health::Stub& stub, const char* name) {
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  auto ctx = rpc::ContextWithDeadline(absl::Seconds(1));
  grpc::Status st = stub.Check(ctx.get(), req, &resp);
  if (!st.ok() || resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(std::string(name) + " not serving");
  }
  return absl::OkStatus();
}
}  // namespace

int main(int argc, char** argv) {
  process::BlockShutdownSignals();
  ConfigSource src = ConfigSource::FromProcess(argc, argv);
  auto proc = process::LoadProcessConfig(src, "0.0.0.0:9200");
  InitLogging("gateway");
  auto cfg = gateway::GatewayConfig::Load(src);
  if (src.help_requested()) {
    std::printf("cloudillo-gateway\n%s\n", src.HelpText().c_str());
    return 0;
  }
  if (absl::Status st = src.Finish(); !st.ok()) return process::StartupFailure("configuration", st);
  if (!cfg.ok()) return process::StartupFailure("configuration", cfg.status());
  cache::RedisConfig redis_config = cfg->redis;
  auto redis = cache::Redis::Create(redis_config);
  auto registry = std::make_shared<prometheus::Registry>();

  auto identity_channel = rpc::ConnectChannel(cfg->identity_addr);
  auto access_channel = rpc::ConnectChannel(cfg->access_addr);
  gateway::Backends backends;
  backends.identity = cloudillo::v1::Identity::NewStub(identity_channel);
  backends.access = cloudillo::v1::Access::NewStub(access_channel);
  auto identity_health = grpc::health::v1::Health::NewStub(identity_channel);
  auto access_health = grpc::health::v1::Health::NewStub(access_channel);

  int http_port = cfg->http_port, https_port = cfg->https_port;
  gateway::Gateway gw(std::move(*cfg), std::move(backends), redis, registry, Clock::Real());
  cache::Subscriber subscriber(
      redis_config, {cache::kInvalidationChannel},
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
                                     if (auto st = redis->Ping(); !st.ok()) return st;
                                     if (auto st = Healthy(*identity_health, "identity"); !st.ok()) return st;
                                     return Healthy(*access_health, "access");
                                   }});
  if (!ops.ok()) return process::StartupFailure("ops endpoint", ops.status());
  LogInfo("started", {{"http_port", (*http)->port()},
                      {"https_port", https ? https->port() : 0},
                      {"ops_port", (*ops)->port()}});

  int sig = process::WaitForShutdownSignal();
  LogInfo("draining", {{"signal", sig}});
  draining = true;
  (*http)->Stop(proc.shutdown_grace);
  if (https) https->Stop(proc.shutdown_grace);
  subscriber.Stop();
  (*ops)->Stop(absl::Seconds(1));
  LogInfo("stopped");
  return 0;
}
