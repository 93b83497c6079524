#include "blob_policy.h"

namespace cloudillo::blob {

rpc::AccessPolicy ListenerPolicy() {
  rpc::AccessPolicy p;
  p.Allow("/cloudillo.v1.BlobEdge/", {"gateway"});
  // Storage usage for the admin API, which identity serves.
  p.Allow("/cloudillo.v1.BlobInternal/", {"identity"});
  p.Allow("/grpc.health.v1.Health/", {"gateway", "admin"});
  return p;
}

}  // namespace cloudillo::blob
