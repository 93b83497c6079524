// Outbound requests to other Cloudillo nodes (PROTOCOL §1.2, §13.10, E17, E21).
//
// Production: HTTPS to `cl-o.<A-label(idTag)>` on port 443 only, certificate verified
// against the system trust store with SNI, `Host: cl-o.<A-label>` without a port. The
// id_tag must be canonical with an A-label of 5..62 characters (E21), else
// InvalidArgument before anything is resolved. After DNS resolution every address that
// is not globally routable (loopback, private, link-local, CGNAT, ULA, multicast,
// unspecified, documentation, IPv4-mapped forms of these...) is refused
// (PermissionDenied), and the connection goes to the address that was checked, so a
// second resolution cannot swap it (no TOCTOU).
//
// Tests: CLOUDILLO_FEDERATION_MAP "cl-o.bob.test=http://127.0.0.1:18490,..." maps
// API host names to loopback base URLs (http or https); anything but a loopback URL is
// refused at load. A mapped host skips DNS and the SSRF guard; others keep them.
//
// Blocking: for worker threads only, never an event loop. Each request has one
// deadline (default 10 s) covering connect, TLS, send and the whole body; bodies over
// `max_body` are refused. Idle keep-alive connections are reused per (host, port).
//
// Status codes: InvalidArgument (bad id_tag, bad path), PermissionDenied (SSRF guard),
// DeadlineExceeded (timeout), Unavailable (DNS, connect, TLS, reset, malformed reply),
// ResourceExhausted (body over max_body). Any HTTP status is a successful Response.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/core/config.h"

namespace cloudillo::federation {

struct ClientConfig {
  std::string federation_map;  // CLOUDILLO_FEDERATION_MAP (empty: none)
  absl::Duration timeout = absl::Seconds(10);
  size_t max_body = 16 << 20;
  std::string ca_file;  // extra trust anchor (tests with https mappings); empty: system store
  std::string user_agent = "cloudillo-cluster";
  // Idle keep-alive connections: each holds a socket plus its io_context's descriptors.
  size_t max_idle_per_destination = 8;
  size_t max_idle_total = 64;
  absl::Duration idle_timeout = absl::Seconds(30);
  // Tests only, never loaded from the environment: host -> IP literal answered instead
  // of DNS, still subject to the SSRF guard (how a test proves the guard runs).
  std::map<std::string, std::string> static_hosts;
  // CLOUDILLO_FEDERATION_MAP, CLOUDILLO_FEDERATION_TIMEOUT_MS, CLOUDILLO_FEDERATION_CA.
  static ClientConfig Load(ConfigSource& src);
};

struct Response {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

class Client {
 public:
  // InvalidArgument for a bad map entry (not loopback, bad URL). Logs a warning when a
  // map is set.
  static absl::StatusOr<std::shared_ptr<Client>> Create(ClientConfig config);
  virtual ~Client() = default;

  // `path` starts with "/api/" and includes the query string (already encoded).
  // `headers` are extra request headers (Authorization, If-None-Match).
  virtual absl::StatusOr<Response> Get(std::string_view id_tag, std::string_view path,
                                       const std::map<std::string, std::string>& headers = {}) = 0;
  virtual absl::StatusOr<Response> PostJson(std::string_view id_tag, std::string_view path, std::string body,
                                            const std::map<std::string, std::string>& headers = {}) = 0;
};

}  // namespace cloudillo::federation
