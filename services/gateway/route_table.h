// The one table of REST and WebSocket routes (EXAMPLES.md item 9): method, path, who
// may call, which rate bucket, how the body travels, and the one RPC that serves it.
// A test checks that every RPC named here exists in proto/ with the message types its
// kind needs, and that every edge RPC of every service has a route.
//
// Routes name their RPC as "/package.Service/Method" on a backend ("identity",
// "access", …); the gateway calls it through a generic stub, so adding a route never
// adds code here beyond its row.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cloudillo/core/percent.h"

namespace cloudillo::gateway {

enum class AuthMode {
  kIgnore,    // the route ignores any bearer (login, /api/me key publication)
  kOptional,  // a bad or out-of-scope bearer degrades to a guest
  kRequired,  // no bearer: 403; a bad JWT: 401; a bad API key or scope: 403
};

// How a route's bodies travel (common.proto explains each stream's messages).
enum class RouteKind {
  kUnary,        // JSON body in ApiRequest, ApiReply back
  kUpload,       // client-streaming ApiUploadPart, ApiReply back
  kDownload,     // ApiRequest, server-streaming ApiDownloadPart back
  kWebSocket,    // GET upgrade bridged to a bidirectional SocketFrame stream of its own
  kMuxedSocket,  // GET upgrade carried with the gateway's other sockets on one MuxFrame stream
};

inline bool IsSocket(RouteKind k) { return k == RouteKind::kWebSocket || k == RouteKind::kMuxedSocket; }

struct Route {
  const char* method;
  const char* pattern;  // segments; `{name}` captures one segment
  AuthMode auth;
  const char* bucket;   // rate-limit bucket, or nullptr (authenticated routes: none, Appendix D 28)
  bool ban_check;       // false for the routes the reference exempts (Appendix D 30)
  const char* backend;  // "identity", "access", …
  const char* rpc;      // "/cloudillo.v1.IdentityEdge/GetMe"
  RouteKind kind = RouteKind::kUnary;
  size_t body_limit = 0;  // bytes; 0 = CLOUDILLO_MAX_BODY_BYTES (sockets: largest client message)
  int ping_seconds = 0;   // sockets: ping after this much silence; 0 = the server's (30 s)
};

struct RouteMatch {
  const Route* route = nullptr;
  int index = -1;           // position of `route` in the table (metric label index)
  bool path_known = false;  // some route has this path (so a wrong method is 405)
  bool bad_param = false;   // the route matched but a parameter is not valid percent-encoding
  std::map<std::string, std::string> params;
};

class RouteTable {
 public:
  explicit RouteTable(std::vector<Route> routes);
  // The production table.
  static const RouteTable& Default();

  // Literal segments win over `{param}` ones; params are percent-decoded.
  RouteMatch Match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }
  // The largest body any route accepts, given the default JSON limit.
  size_t MaxBodyLimit(size_t default_limit) const;

 private:
  struct Compiled {
    std::vector<std::string> segments;
    std::vector<bool> is_param;
    std::vector<std::string> param_names;
    int literals = 0;
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

using ::cloudillo::PercentDecode;

}  // namespace cloudillo::gateway
