#include "gateway_config.h"

#include <arpa/inet.h>

#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"

namespace cloudillo::gateway {

absl::StatusOr<Cidr> Cidr::Parse(const std::string& text) {
  Cidr c;
  size_t slash = text.find('/');
  std::string ip = text.substr(0, slash);
  if (inet_pton(AF_INET, ip.c_str(), c.addr) == 1) {
    c.prefix = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), c.addr) == 1) {
    c.v6 = true;
    c.prefix = 128;
  } else {
    return absl::InvalidArgumentError("'" + text + "' is not an IP network");
  }
  if (slash != std::string::npos) {
    int p = 0;
    if (!absl::SimpleAtoi(AV(std::string_view(text).substr(slash + 1)), &p) || p < 0 || p > c.prefix) {
      return absl::InvalidArgumentError("'" + text + "' has a bad prefix length");
    }
    c.prefix = p;
  }
  return c;
}

bool Cidr::Contains(const std::string& ip) const {
  unsigned char buf[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), buf) != 1) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(buf, addr, full) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (buf[full] & mask) == (addr[full] & mask);
}

absl::StatusOr<GatewayConfig> GatewayConfig::Load(ConfigSource& src) {
  GatewayConfig c;
  c.listen_address = src.Str("CLOUDILLO_LISTEN_ADDRESS", "0.0.0.0", "address the HTTP(S) listeners bind");
  c.http_port = int(src.Int("CLOUDILLO_HTTP_PORT", 8080, 0, 65535, "plain HTTP port"));
  c.https_port =
      int(src.Int("CLOUDILLO_HTTPS_PORT", 0, 0, 65535, "HTTPS port (0 = off); needs the TLS files"));
  c.tls_cert_file = src.Str("CLOUDILLO_TLS_CERT", "", "PEM certificate chain for HTTPS");
  c.tls_key_file = src.Str("CLOUDILLO_TLS_KEY", "", "PEM private key for HTTPS");
  int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  c.threads = int(src.Int("CLOUDILLO_HTTP_THREADS", cores, 1, 1024, "I/O threads (default: one per core)"));
  c.max_body_bytes = size_t(src.Int("CLOUDILLO_MAX_BODY_BYTES", 1 << 20, 1024, 1 << 30, "largest JSON body"));
  c.max_header_bytes =
      size_t(src.Int("CLOUDILLO_MAX_HEADER_BYTES", 16 * 1024, 1024, 1 << 20, "largest header block"));
  c.web_root = src.Str("CLOUDILLO_WEB_ROOT", "",
                       "folder with a build of the web client's shell (apps in apps/<name>/)");
  c.identity_addr = src.Str("CLOUDILLO_IDENTITY_ADDR", "127.0.0.1:9101", "identity gRPC address");
  c.access_addr = src.Str("CLOUDILLO_ACCESS_ADDR", "127.0.0.1:9102", "access gRPC address");
  c.action_addr = src.Str("CLOUDILLO_ACTION_ADDR", "127.0.0.1:9103", "action gRPC address");
  c.rpc_timeout_ms =
      int(src.Int("CLOUDILLO_RPC_TIMEOUT_MS", 10000, 100, 600000, "deadline of each backend call"));
  c.blob_addr = src.Str("CLOUDILLO_BLOB_ADDR", "127.0.0.1:9104", "blob gRPC address");
  c.collab_addr = src.Str("CLOUDILLO_COLLAB_ADDR", "127.0.0.1:9105", "collab gRPC address");
  c.stream_timeout_ms = int(src.Int("CLOUDILLO_STREAM_TIMEOUT_MS", 3600000, 1000, 86400000,
                                    "deadline of a streamed upload or download"));
  c.socket_streams = int(src.Int("CLOUDILLO_SOCKET_STREAMS", 4, 1, 64,
                                 "streams per route that carry the live documents' sockets to collab"));
  c.download_cache_bytes =
      size_t(src.Int("CLOUDILLO_DOWNLOAD_CACHE_MB", 64, 0, 65536,
                     "memory for whole small files served again without asking blob (0 turns it off)"))
      << 20;
  c.access_log = src.Bool("CLOUDILLO_ACCESS_LOG", true, "one JSON log line per request");
  c.rate_limit =
      src.Bool("CLOUDILLO_RATE_LIMIT", true, "per-IP and per-tenant rate limits (false logs a warning)");
  std::vector<std::string> errors;
  if (auto redis = cache::RedisConfig::Load(src); redis.ok()) {
    c.redis = *redis;
  } else {
    errors.push_back(std::string(redis.status().message()));
  }
  for (const char* name : {"auth", "federation", "general", "search", "websocket", "dav"}) {
    std::string env = std::string("CLOUDILLO_RATE_") + name;
    for (auto& ch : env) ch = char(toupper(ch));
    std::string spec = src.Str(env, "",
                               std::string("rate limits of the ") + name +
                                   " bucket: addr/s/burst,addr/h/burst,net/s/burst,net/h/burst");
    if (spec.empty()) {
      c.buckets.push_back(cache::DefaultBucket(name));
      continue;
    }
    auto b = cache::ParseBucketSpec(name, spec);
    if (!b.ok())
      errors.push_back(std::string(b.status().message()));
    else
      c.buckets.push_back(*b);
  }
  auto extra_bucket = [&](const char* env, const char* name, const char* def, const char* help) {
    auto b = cache::ParseBucketSpec(name, src.Str(env, def, help));
    if (!b.ok()) errors.push_back(std::string(b.status().message()));
    return b.ok() ? *b : cache::BucketLimits{name, {}, {}, {}, {}};
  };
  c.lookup_bucket =
      extra_bucket("CLOUDILLO_RATE_LOOKUP", "lookup", "20/100,1000/500,100/500,10000/2000",
                   "per address: requests naming a host or API key the gateway does not know yet");
  c.anonymous_bucket =
      extra_bucket("CLOUDILLO_RATE_ANONYMOUS", "anonymous", "50/100,5000/500,200/400,20000/2000",
                   "per address: anonymous requests on routes that need authentication");
  std::string tenant =
      src.Str("CLOUDILLO_RATE_TENANT", "2000/4000", "per-tenant rate/burst per second (0/1 = off)");
  std::vector<std::string> tb = absl::StrSplit(AV(tenant), '/');
  if (tb.size() != 2 || !absl::SimpleAtod(AV(tb[0]), &c.tenant_limit.per_second) ||
      !absl::SimpleAtoi(AV(tb[1]), &c.tenant_limit.burst)) {
    errors.push_back("CLOUDILLO_RATE_TENANT must be rate/burst");
  }
  std::string proxies =
      src.Str("CLOUDILLO_TRUSTED_PROXIES", "", "comma-separated networks whose X-Forwarded-For is trusted");
  for (absl::string_view p : absl::StrSplit(AV(proxies), ',', absl::SkipWhitespace())) {
    auto cidr = Cidr::Parse(std::string(p));
    if (!cidr.ok())
      errors.push_back("CLOUDILLO_TRUSTED_PROXIES: " + std::string(cidr.status().message()));
    else
      c.trusted_proxies.push_back(*cidr);
  }
  if (c.https_port != 0 && (c.tls_cert_file.empty() || c.tls_key_file.empty())) {
    errors.push_back("CLOUDILLO_HTTPS_PORT needs CLOUDILLO_TLS_CERT and CLOUDILLO_TLS_KEY");
  }
  if (!errors.empty()) {
    std::string msg = "bad configuration:";
    for (const auto& e : errors) msg += "\n  " + e;
    return absl::InvalidArgumentError(msg);
  }
  if (!c.rate_limit) LogWarn("rate_limiting_disabled", {{"reason", "CLOUDILLO_RATE_LIMIT=false"}});
  return c;
}

const cache::BucketLimits* GatewayConfig::Bucket(const std::string& name) const {
  for (const auto& b : buckets) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

}  // namespace cloudillo::gateway
