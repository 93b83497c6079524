// The one table of REST routes (EXAMPLES.md item 9): method, path, who may call,
// which rate bucket, and the one RPC that serves it. A test checks that every RPC
// named here exists in proto/ and that every ApiRequest RPC of a service is routed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cloudillo/core/percent.h"
#include "cloudillo/v1/access.grpc.pb.h"
#include "cloudillo/v1/identity.grpc.pb.h"

namespace cloudillo::gateway {

struct Backends {
  std::unique_ptr<cloudillo::v1::Identity::StubInterface> identity;
  std::unique_ptr<cloudillo::v1::Access::StubInterface> access;
};

enum class AuthMode {
  kIgnore,    // the route ignores any bearer (login, /api/me key publication)
  kOptional,  // a bad or out-of-scope bearer degrades to a guest
  kRequired,  // no bearer: 403; a bad JWT: 401; a bad API key or scope: 403
};

using RpcCall = grpc::Status (*)(Backends&, grpc::ClientContext*, const cloudillo::v1::ApiRequest&,
                                 cloudillo::v1::ApiReply*);

struct Route {
  const char* method;
  const char* pattern;  // segments; `{name}` captures one segment
  AuthMode auth;
  const char* bucket;  // rate-limit bucket, or nullptr (authenticated routes: none, Appendix D 28)
  bool ban_check;      // false for the routes the reference exempts (Appendix D 30)
  const char* rpc;     // full method name, e.g. "cloudillo.v1.Identity.GetMe"
  RpcCall call;
};

const std::vector<Route>& Routes();

struct RouteMatch {
  const Route* route = nullptr;
  bool path_known = false;  // some route has this path (so a wrong method is 405)
  std::map<std::string, std::string> params;
};

// Literal segments win over `{param}` ones; params are percent-decoded.
RouteMatch MatchRoute(std::string_view method, std::string_view path);

using ::cloudillo::PercentDecode;

}  // namespace cloudillo::gateway
