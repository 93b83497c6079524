// RedisAddress and RedisConfig: parsing and the checks that stop a process at startup.
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::cache {
namespace {

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

absl::StatusOr<RedisAddress> RedisAddress::Parse(const std::string& text) {
  size_t colon = text.rfind(':');
  RedisAddress a;
  if (colon == std::string::npos || colon == 0)
    return absl::InvalidArgumentError("'" + text + "' is not host:port");
  a.host = text.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  } else if (a.host.find(':') != std::string::npos) {
    return absl::InvalidArgumentError("'" + text + "': write an IPv6 address as [addr]:port");
  }
  if (a.host.empty() || !absl::SimpleAtoi(AV(std::string_view(text).substr(colon + 1)), &a.port) ||
      a.port <= 0 || a.port > 65535) {
    return absl::InvalidArgumentError("'" + text + "' is not host:port");
  }
  return a;
}

std::string RedisAddress::ToString() const {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

absl::Status RedisConfig::Validate() const {
  std::vector<std::string> problems;
  if (sentinels.empty()) {
    if (auto a = RedisAddress::Parse(addr); !a.ok())
      problems.push_back("CLOUDILLO_REDIS_ADDR: " + std::string(a.status().message()));
    if (!master_name.empty())
      problems.push_back("CLOUDILLO_REDIS_MASTER_NAME needs CLOUDILLO_REDIS_SENTINELS");
    if (!sentinel_username.empty() || !sentinel_password.empty()) {
      problems.push_back(
          "CLOUDILLO_REDIS_SENTINEL_USERNAME/_PASSWORD need CLOUDILLO_REDIS_SENTINELS and "
          "CLOUDILLO_REDIS_MASTER_NAME");
    }
  } else {
    for (const auto& s : sentinels) {
      if (auto a = RedisAddress::Parse(s); !a.ok())
        problems.push_back("CLOUDILLO_REDIS_SENTINELS: " + std::string(a.status().message()));
    }
    if (master_name.empty())
      problems.push_back("CLOUDILLO_REDIS_SENTINELS needs CLOUDILLO_REDIS_MASTER_NAME");
  }
  if (!username.empty() && password.empty())
    problems.push_back("CLOUDILLO_REDIS_USERNAME needs CLOUDILLO_REDIS_PASSWORD");
  if (!sentinel_username.empty() && sentinel_password.empty())
    problems.push_back("CLOUDILLO_REDIS_SENTINEL_USERNAME needs CLOUDILLO_REDIS_SENTINEL_PASSWORD");
  if (db < 0) problems.push_back("CLOUDILLO_REDIS_DB must not be negative");
  if (!tls &&
      (!tls_ca_file.empty() || !tls_cert_file.empty() || !tls_key_file.empty() || !tls_server_name.empty()))
    problems.push_back("CLOUDILLO_REDIS_TLS_* are set but CLOUDILLO_REDIS_TLS is false");
  if (tls_cert_file.empty() != tls_key_file.empty())
    problems.push_back("CLOUDILLO_REDIS_TLS_CERT and CLOUDILLO_REDIS_TLS_KEY go together");
  for (const auto& [name, path] : {std::pair<const char*, const std::string&>{"CA", tls_ca_file},
                                   {"CERT", tls_cert_file},
                                   {"KEY", tls_key_file}}) {
    if (!path.empty() && !Readable(path))
      problems.push_back(absl::StrCat("CLOUDILLO_REDIS_TLS_", name, "='", path, "' cannot be read"));
  }
  if (connect_timeout <= absl::ZeroDuration() || command_timeout <= absl::ZeroDuration())
    problems.push_back("redis timeouts must be positive");
  if (max_pending == 0) problems.push_back("redis max_pending must be positive");
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

absl::StatusOr<RedisConfig> RedisConfig::Load(ConfigSource& src) {
  RedisConfig c;
  c.addr =
      src.Str("CLOUDILLO_REDIS_ADDR", c.addr, "Redis host:port (ignored with CLOUDILLO_REDIS_SENTINELS)");
  c.username = src.Str("CLOUDILLO_REDIS_USERNAME", "", "Redis ACL user for AUTH (empty: the default user)");
  c.password = src.Secret("CLOUDILLO_REDIS_PASSWORD", "Redis password for AUTH (empty: no AUTH)");
  c.db = int(src.Int("CLOUDILLO_REDIS_DB", 0, 0, 1 << 20, "Redis database number (SELECT)"));
  c.tls = src.Bool("CLOUDILLO_REDIS_TLS", false, "connect to Redis (and its sentinels) with TLS");
  c.tls_ca_file =
      src.Str("CLOUDILLO_REDIS_TLS_CA", "", "PEM CA bundle verifying Redis (empty: the system's CAs)");
  c.tls_cert_file =
      src.Str("CLOUDILLO_REDIS_TLS_CERT", "", "PEM client certificate chain for Redis (mutual TLS)");
  c.tls_key_file = src.Str("CLOUDILLO_REDIS_TLS_KEY", "", "PEM private key of CLOUDILLO_REDIS_TLS_CERT");
  c.tls_server_name = src.Str("CLOUDILLO_REDIS_TLS_SERVER_NAME", "",
                              "name verified in Redis' certificate and sent as SNI (empty: the host)");
  std::string sentinels = src.Str("CLOUDILLO_REDIS_SENTINELS", "",
                                  "comma-separated Sentinel host:port list; the master comes from them");
  for (absl::string_view s : absl::StrSplit(AV(sentinels), ',', absl::SkipWhitespace()))
    c.sentinels.emplace_back(absl::StripAsciiWhitespace(s));
  c.master_name = src.Str("CLOUDILLO_REDIS_MASTER_NAME", "", "the master's name at the sentinels");
  c.sentinel_username =
      src.Str("CLOUDILLO_REDIS_SENTINEL_USERNAME", "", "ACL user for AUTH to the sentinels");
  c.sentinel_password = src.Secret("CLOUDILLO_REDIS_SENTINEL_PASSWORD", "password for AUTH to the sentinels");
  if (absl::Status st = c.Validate(); !st.ok()) return st;
  return c;
}

}  // namespace cloudillo::cache
