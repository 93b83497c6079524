// The outbound client: id_tag check, destination (map or DNS + SSRF guard), pooled
// connection, one exchange with one retry on a stale pooled connection.
#include "cloudillo/federation/client.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "connection.h"
#include "federation_map.h"
#include "global_address.h"
#include "idle_pool.h"

namespace cloudillo::federation {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Destination {
  std::string host;  // cl-o.<A-label>: Host header, SNI, certificate name
  bool tls = true;
  int port = 443;
  std::vector<tcp::endpoint> endpoints;  // every one checked (or mapped loopback)
  std::string pool_key;
};

bool TokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

absl::Status CheckRequest(std::string_view path, const std::map<std::string, std::string>& headers) {
  if (path.substr(0, 5) != "/api/")
    return absl::InvalidArgumentError("federation: path must start with /api/");
  for (char c : path) {
    if (c <= 0x20 || c >= 0x7f || c == '#')
      return absl::InvalidArgumentError("federation: path has a character that needs encoding");
  }
  for (const auto& [name, value] : headers) {
    if (name.empty()) return absl::InvalidArgumentError("federation: empty header name");
    for (char c : name) {
      if (!TokenChar(c)) return absl::InvalidArgumentError("federation: bad header name");
    }
    std::string lower = absl::AsciiStrToLower(AV(name));
    if (lower == "host" || lower == "content-length" || lower == "transfer-encoding" || lower == "connection")
      return absl::InvalidArgumentError("federation: header " + name + " is set by the client");
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return absl::InvalidArgumentError("federation: header " + name + " has a control character");
    }
  }
  return absl::OkStatus();
}

class ClientImpl : public Client {
 public:
  ClientImpl(ClientConfig config, std::map<std::string, MapTarget> map,
             std::unique_ptr<asio::ssl::context> tls)
      : config_(std::move(config)),
        map_(std::move(map)),
        tls_(std::move(tls)),
        pool_(config_.max_idle_per_destination, config_.max_idle_total,
              std::chrono::nanoseconds(absl::ToInt64Nanoseconds(config_.idle_timeout))) {}

  absl::StatusOr<Response> Get(std::string_view id_tag, std::string_view path,
                               const std::map<std::string, std::string>& headers) override {
    return Send(false, id_tag, path, "", headers);
  }
  absl::StatusOr<Response> PostJson(std::string_view id_tag, std::string_view path, std::string body,
                                    const std::map<std::string, std::string>& headers) override {
    return Send(true, id_tag, path, std::move(body), headers);
  }

 private:
  absl::StatusOr<Response> Send(bool post, std::string_view id_tag, std::string_view path, std::string body,
                                const std::map<std::string, std::string>& headers) {
    // Nothing below may throw past this boundary (allocation, a Beast/Asio edge case).
    try {
      if (absl::Status st = CheckRequest(path, headers); !st.ok()) return st;
      auto host = ApiHost(id_tag);
      if (!host.ok()) return host.status();
      Deadline deadline = std::chrono::steady_clock::now() +
                          std::chrono::nanoseconds(absl::ToInt64Nanoseconds(config_.timeout));
      Destination dest = Route(*host);
      OutboundRequest req;
      req.post = post;
      req.host_header = dest.host;
      req.target = std::string(path);
      req.body = std::move(body);
      req.headers = &headers;
      req.user_agent = config_.user_agent;
      req.max_body = config_.max_body;
      return Exchange(dest, req, deadline);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("federation: ", e.what()));
    } catch (...) {
      return absl::UnavailableError("federation: unexpected failure");
    }
  }

  // E21: the same canonicality test as for iss/aud, so we never contact a host a Rust
  // node would refuse, and never interpolate anything else into a host name.
  static absl::StatusOr<std::string> ApiHost(std::string_view id_tag) {
    auto canonical = CanonicalIdTag(id_tag);
    if (!canonical.ok() || *canonical != id_tag)
      return absl::InvalidArgumentError(
          absl::StrCat("federation: '", AV(id_tag), "' is not a canonical id_tag"));
    auto ascii = IdTagToAscii(id_tag);
    if (!ascii.ok() || ascii->size() < 5 || ascii->size() > 62)
      return absl::InvalidArgumentError(
          absl::StrCat("federation: id_tag '", AV(id_tag), "' must have an A-label of 5..62 characters"));
    return "cl-o." + *ascii;
  }

  Destination Route(const std::string& host) const {
    Destination d;
    d.host = host;
    if (auto it = map_.find(host); it != map_.end()) {
      d.tls = it->second.tls;
      d.port = it->second.port;
      d.endpoints.emplace_back(asio::ip::make_address(it->second.address), uint16_t(d.port));
    }
    d.pool_key = absl::StrCat(d.tls ? "https " : "http ", host, " ", d.port);
    return d;
  }

  // Only for a new connection: a pooled one was opened to an address checked then.
  absl::Status ResolveEndpoints(Destination& d, Deadline deadline) {
    const std::string& host = d.host;
    std::vector<asio::ip::address> addresses;
    if (auto it = config_.static_hosts.find(host); it != config_.static_hosts.end()) {
      boost::system::error_code ec;
      auto a = asio::ip::make_address(it->second, ec);
      if (ec) return absl::UnavailableError("federation: bad static host address for " + host);
      addresses.push_back(a);
    } else {
      auto resolved = Lookup(host, deadline);
      if (!resolved.ok()) return resolved.status();
      addresses = std::move(*resolved);
    }
    if (addresses.empty()) return absl::UnavailableError("federation: " + host + " has no address");
    // One refused address refuses the name: a name that mixes public and internal
    // addresses is a rebinding attempt or a misconfiguration, not a peer.
    for (const auto& a : addresses) {
      if (!IsGlobalUnicast(a)) {
        return absl::PermissionDeniedError(
            absl::StrCat("federation: ", host, " resolves to a non-global address ", a.to_string()));
      }
      d.endpoints.emplace_back(a, uint16_t(d.port));
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::vector<asio::ip::address>> Lookup(const std::string& host, Deadline deadline) {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    bool done = false;
    boost::system::error_code result;
    std::vector<asio::ip::address> out;
    resolver.async_resolve(host, "443",
                           [&](const boost::system::error_code& ec, tcp::resolver::results_type r) {
                             done = true;
                             result = ec;
                             for (const auto& entry : r) {
                               if (out.size() < 32) out.push_back(entry.endpoint().address());
                             }
                           });
    ioc.run_until(deadline);
    if (!done) {
      // getaddrinfo cannot be interrupted: the lookup thread finishes on its own.
      resolver.cancel();
      ioc.run();
      return absl::DeadlineExceededError("federation: resolving " + host + " timed out");
    }
    if (result) return absl::UnavailableError("federation: resolving " + host + ": " + result.message());
    return out;
  }

  absl::StatusOr<Response> Exchange(Destination& d, const OutboundRequest& req, Deadline deadline) {
    std::unique_ptr<Connection> conn = pool_.Take(d.pool_key);
    bool reused = conn != nullptr;
    while (true) {
      if (!conn) {
        if (d.endpoints.empty()) {
          if (absl::Status st = ResolveEndpoints(d, deadline); !st.ok()) return st;
        }
        conn = std::make_unique<Connection>(d.tls ? tls_.get() : nullptr);
        if (absl::Status st = conn->Open(d.endpoints, d.host, deadline); !st.ok()) return st;
      }
      Connection::Outcome out = conn->Exchange(req, deadline);
      if (out.response.ok()) {
        if (out.reusable) pool_.Put(d.pool_key, std::move(conn));
        return std::move(out.response);
      }
      // A pooled connection the peer closed just before our request fails before any
      // reply byte; the peer cannot have acted on it, so one fresh attempt is safe.
      if (reused && out.nothing_read && out.response.status().code() == absl::StatusCode::kUnavailable &&
          std::chrono::steady_clock::now() < deadline) {
        conn.reset();
        reused = false;
        continue;
      }
      return out.response.status();
    }
  }

  const ClientConfig config_;
  const std::map<std::string, MapTarget> map_;
  const std::unique_ptr<asio::ssl::context> tls_;
  IdlePool pool_;
};

absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const ClientConfig& config) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) return absl::InvalidArgumentError("federation TLS: system CA paths: " + ec.message());
  if (!config.ca_file.empty()) {
    ctx->load_verify_file(config.ca_file, ec);
    if (ec)
      return absl::InvalidArgumentError("federation TLS: CA file '" + config.ca_file + "': " + ec.message());
  }
  return ctx;
}

}  // namespace

ClientConfig ClientConfig::Load(ConfigSource& src) {
  ClientConfig c;
  c.federation_map =
      src.Str("CLOUDILLO_FEDERATION_MAP", "",
              "tests only: comma-separated cl-o.<host>=http(s)://127.0.0.1:<port> overrides of DNS");
  c.timeout =
      absl::Milliseconds(src.Int("CLOUDILLO_FEDERATION_TIMEOUT_MS", absl::ToInt64Milliseconds(c.timeout), 100,
                                 600000, "deadline of one outbound federation request, ms"));
  c.ca_file =
      src.Str("CLOUDILLO_FEDERATION_CA", "",
              "extra PEM CA trusted for outbound federation (tests); the system store is always used");
  return c;
}

absl::StatusOr<std::shared_ptr<Client>> Client::Create(ClientConfig config) {
  try {
    auto map = ParseFederationMap(config.federation_map);
    if (!map.ok()) return map.status();
    if (config.timeout <= absl::ZeroDuration())
      return absl::InvalidArgumentError("federation: timeout must be positive");
    if (config.max_body == 0) return absl::InvalidArgumentError("federation: max_body must be positive");
    auto tls = MakeTlsContext(config);
    if (!tls.ok()) return tls.status();
    if (!map->empty()) {
      LogWarn("federation_map_set", {{"entries", int64_t(map->size())},
                                     {"map", config.federation_map},
                                     {"note", "mapped hosts bypass DNS and the SSRF guard; tests only"}});
    }
    return std::shared_ptr<Client>(
        std::make_shared<ClientImpl>(std::move(config), std::move(*map), std::move(*tls)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("federation: ", e.what()));
  }
}

}  // namespace cloudillo::federation
