// The gateway: the only public face (DESIGN "gateway"). For each request it resolves
// the tenant from Host, applies bans and rate limits, authenticates the bearer
// locally, maps the route to one gRPC call (or stream) and wraps the answer in the
// REST envelope. Stateless apart from caches; run as many as needed.
//
// Nothing here blocks an I/O thread: the directory and the ban list answer from
// memory or call back later, backend calls use gRPC's callback API, failed-login
// delays are timers, and the web root is read on a small disk pool. The order of the
// checks bounds what an attacker can make us do: per-IP limits before the tenant
// lookup, directory misses charged to the client's address, the tenant's budget only
// after authentication (api_flow.cc).
#pragma once

#include <grpcpp/generic/generic_stub.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cloudillo/cache/redis.h"
#include "cloudillo/cache/usage.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/http/server.h"
#include "cloudillo/rpc/dispatch.h"
#include "directory.h"
#include "gateway_config.h"
#include "metrics.h"
#include "reply_cache.h"
#include "route_table.h"
#include "socket_mux.h"
#include "static_files.h"
#include "verified_tokens.h"
#include "waiters.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::gateway {

class Limits;

// The request target for logs, with secret query values (token, apiKey, …) redacted
// whatever the percent-encoding of their names.
std::string RedactedTarget(const http::Request& req);

struct GatewayBackends {
  DirectoryBackends directory;
  // Edge RPCs by backend name ("identity", "access", …), called by method name.
  std::unordered_map<std::string, std::shared_ptr<grpc::Channel>> channels;
};

class Gateway {
 public:
  // Long-polls held at once; beyond, a poll is answered with its provisional reply.
  static constexpr size_t kMaxWaiters = 10000;
  static constexpr int kMaxWaitMs = 30000;

  Gateway(GatewayConfig config, GatewayBackends backends, std::shared_ptr<cache::Redis> redis,
          std::shared_ptr<prometheus::Registry> registry, const Clock& clock,
          const RouteTable& routes = RouteTable::Default());
  ~Gateway();

  void Handle(std::shared_ptr<http::Exchange> exchange);
  http::Response BadRequest(int status, const std::string& reason);
  http::BodyPlan PlanBody(const http::Request& head) const;
  http::ServerOptions ServerOptions(int port, bool tls);

  // Messages of the invalidation channel, and the subscriber's reset.
  void OnInvalidation(const std::string& message);
  void OnSubscriberReset();

  // Starts and stops the rate limiter's reconciliation with Redis and the usage
  // counters' flushes.
  void Start();
  void Stop();

 private:
  friend class ApiFlow;
  void HandleApp(const std::shared_ptr<http::Exchange>& ex, const std::string& host_id_tag,
                 const std::string& req_id, absl::Time start);
  // Counts, logs and sends an answer; Record only counts and logs one a stream sent.
  void Complete(const std::shared_ptr<http::Exchange>& ex, http::Response res, int route,
                const std::string& req_id, const std::string& tenant, absl::Time start);
  void Record(const http::Request& req, const http::Response& res, int route, const std::string& req_id,
              const std::string& tenant, absl::Time start);
  std::string ClientIp(const http::Request& req) const;
  grpc::GenericStub* Stub(const std::string& backend);

  GatewayConfig config_;
  const RouteTable& routes_;
  std::shared_ptr<cache::Redis> redis_;
  const Clock& clock_;
  std::unique_ptr<GatewayMetrics> metrics_;
  Directory directory_;
  std::unique_ptr<Limits> limits_;
  cache::UsageRecorder usage_;
  ReplyCache replies_;
  VerifiedTokens verified_tokens_;
  // Whole files (up to kMaxKeptDownload each) whose download blob marked reusable for
  // this caller: a repeated download costs no call to blob and no store read. Bounded
  // by config_.download_cache_bytes.
  static constexpr size_t kMaxKeptDownload = 2u << 20;
  ReplyCache downloads_;
  // The keys of reusable downloads being fetched right now, and the requests waiting for
  // them: when an entry expires under load, one request refills it instead of every
  // connection fetching the same file from blob at once. Bounded both ways; beyond
  // that a request simply asks blob.
  static constexpr size_t kMaxFills = 1024;
  static constexpr absl::Duration kMaxFillWait = absl::Seconds(2);
  bool BeginFill(const std::string& key);  // true: this request fetches, others wait
  void EndFill(const std::string& key);    // wakes the waiters (once the entry is stored)
  bool Filling(const std::string& key);
  std::mutex fills_mu_;
  std::unordered_set<std::string> fills_;
  Waiters fill_waiters_{kMaxWaiters};
  Waiters waiters_{kMaxWaiters};  // long-polls held for a wake-up (WaitPolicy)
  std::unordered_map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_;
  StaticFiles static_files_;
  SocketMuxes sockets_;   // the multiplexed socket streams (RouteKind::kMuxedSocket)
  rpc::WorkerPool disk_;  // reads of the web root, off the I/O threads
};

}  // namespace cloudillo::gateway
