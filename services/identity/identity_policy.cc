#include "identity_policy.h"

namespace cloudillo::identity {

rpc::AccessPolicy ListenerPolicy() {
  rpc::AccessPolicy p;
  // REST routes carry a RequestContext that only the gateway may assert.
  p.Allow("/cloudillo.v1.IdentityEdge/", {"gateway"});
  // blob reads the tenant's storage quota (its plan) from it.
  p.Allow("/cloudillo.v1.Identity/ResolveTenant", {"gateway", "blob"});
  // blob: the id_tag of a tenant it fetches a remote file for, to learn its plan quota.
  p.Allow("/cloudillo.v1.Identity/GetLoginProfile", {"access", "blob"});
  // access signs PROXY tokens (§3.4) and reads a peer's roles for the token it mints (E7).
  p.Allow("/cloudillo.v1.Identity/SignAction", {"action", "access"});
  // blob: whether a peer follows or is connected to the tenant (F and C files, §4.5).
  p.Allow("/cloudillo.v1.Identity/GetRelationships", {"action", "access", "blob"});
  for (const char* m : {"UpdateRelationship", "ListFollowers", "GetTenantSettings"}) {
    p.Allow(std::string("/cloudillo.v1.Identity/") + m, {"action"});
  }
  p.Allow("/cloudillo.v1.Identity/SetProfileImage", {"blob"});
  p.Allow("/grpc.health.v1.Health/", {"gateway", "access", "action", "blob", "admin"});
  return p;
}

rpc::AccessPolicy AdminListenerPolicy() {
  rpc::AccessPolicy p;
  p.Allow("/cloudillo.v1.Admin/", {"admin"});
  p.Allow("/grpc.health.v1.Health/", {"admin"});
  return p;
}

}  // namespace cloudillo::identity
