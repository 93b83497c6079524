#include "action_policy.h"

namespace cloudillo::action {

rpc::AccessPolicy ListenerPolicy() {
  rpc::AccessPolicy p;
  p.Allow("/cloudillo.v1.ActionEdge/", {"gateway"});
  p.Allow("/grpc.health.v1.Health/", {"gateway", "admin"});
  return p;
}

}  // namespace cloudillo::action
