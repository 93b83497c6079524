// The gateway's configuration, read once at startup (EXAMPLES.md item 7). Every
// variable, its default and meaning is listed by `cloudillo-gateway --help` and in
// the README's table.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/cache/local_limiter.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/config.h"

namespace cloudillo::gateway {

struct Cidr {
  bool v6 = false;
  unsigned char addr[16] = {0};
  int prefix = 0;
  static absl::StatusOr<Cidr> Parse(const std::string& text);
  bool Contains(const std::string& ip) const;
};

struct GatewayConfig {
  std::string listen_address = "0.0.0.0";
  int http_port = 8080;
  int https_port = 0;  // 0 = no TLS listener
  std::string tls_cert_file, tls_key_file;
  int threads = 2;  // I/O threads; nothing blocks them, so one per core
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 * 1024;
  std::string web_root;
  std::string identity_addr, access_addr, action_addr;
  cache::RedisConfig redis;
  int rpc_timeout_ms = 10000;
  std::string blob_addr;
  std::string collab_addr;
  int stream_timeout_ms = 3600000;  // uploads and downloads (a stalled client is cut by the idle timeout)
  int socket_streams = 4;           // per multiplexed socket route (round_robin spreads them over replicas)
  size_t download_cache_bytes = 64u << 20;  // whole small files blob marked reusable; 0 = off
  bool access_log = true;
  bool rate_limit = true;
  std::vector<cache::BucketLimits> buckets;  // auth, federation, general, search, websocket, dav
  cache::BucketLimits lookup_bucket;         // directory misses (unknown hosts and keys) per address
  cache::BucketLimits anonymous_bucket;      // anonymous requests on routes without a bucket
  cache::Tier tenant_limit;                  // per tenant, all routes; per_second 0 = off
  std::vector<Cidr> trusted_proxies;

  static absl::StatusOr<GatewayConfig> Load(ConfigSource& src);
  const cache::BucketLimits* Bucket(const std::string& name) const;
};

}  // namespace cloudillo::gateway
