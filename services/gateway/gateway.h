// The gateway: the only public face (DESIGN "gateway"). For each request it
// resolves the tenant from Host, applies bans and rate limits, authenticates the
// bearer locally, maps the route to one gRPC call and wraps the answer in the REST
// envelope. Stateless apart from caches; run as many as needed.
#pragma once

#include <memory>
#include <string>

#include "cloudillo/cache/rate_limiter.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/http/server.h"
#include "directory.h"
#include "gateway_config.h"
#include "route_table.h"
#include "static_files.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::gateway {

struct GatewayMetrics;

class Gateway {
 public:
  Gateway(GatewayConfig config, Backends backends, std::shared_ptr<cache::Redis> redis,
          std::shared_ptr<prometheus::Registry> registry, const Clock& clock);
  ~Gateway();

  http::Response Handle(const http::Request& req);
  http::Response BadRequest(int status, const std::string& reason);
  size_t BodyLimit(const http::Request& head) const;
  http::Response WebSocketCheck(const http::Request& req);
  http::ServerOptions ServerOptions(int port, bool tls);

  Directory& directory() { return directory_; }

 private:
  http::Response HandleApi(const http::Request& req, const std::string& id_tag, const std::string& req_id,
                           std::string* route_name, std::string* tenant_out);
  http::Response HandleApp(const http::Request& req, const std::string& host_id_tag,
                           const std::string& req_id);
  std::string ClientIp(const http::Request& req) const;
  // An error answer when the request must stop here, else nullopt.
  std::optional<http::Response> CheckLimits(const Route& route, const TenantInfo& tenant,
                                            const std::string& ip);

  GatewayConfig config_;
  Backends backends_;
  std::shared_ptr<cache::Redis> redis_;
  cache::RateLimiter limiter_;
  const Clock& clock_;
  Directory directory_;
  StaticFiles static_files_;
  std::unique_ptr<GatewayMetrics> metrics_;
};

}  // namespace cloudillo::gateway
