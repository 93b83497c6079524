#include "collab_policy.h"

namespace cloudillo::collab {

rpc::AccessPolicy ListenerPolicy() {
  rpc::AccessPolicy p;
  p.Allow("/cloudillo.v1.CollabEdge/", {"gateway"});
  p.Allow("/grpc.health.v1.Health/", {"gateway", "admin"});
  return p;
}

}  // namespace cloudillo::collab
