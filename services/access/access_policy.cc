#include "access_policy.h"

namespace cloudillo::access {

rpc::AccessPolicy ListenerPolicy() {
  rpc::AccessPolicy p;
  p.Allow("/cloudillo.v1.AccessEdge/", {"gateway"});
  p.Allow("/cloudillo.v1.Access/GetTokenSecrets", {"gateway"});
  p.Allow("/cloudillo.v1.Access/ResolveApiKey", {"gateway"});
  for (const char* m : {"SetupTenant", "SetPassword", "RotateTokenSecret", "DeleteTenantCredentials", "ResealSecrets"}) {
    p.Allow(std::string("/cloudillo.v1.Access/") + m, {"identity"});
  }
  p.Allow("/grpc.health.v1.Health/", {"gateway", "identity", "admin"});
  return p;
}

}  // namespace cloudillo::access
