#include "blob_policy.h"

namespace cloudillo::blob {

rpc::AccessPolicy ListenerPolicy() {
  rpc::AccessPolicy p;
  p.Allow("/cloudillo.v1.BlobEdge/", {"gateway"});
  // Attachments of incoming actions (action) and remote avatars (identity), PROTOCOL §4.6.
  p.Allow("/cloudillo.v1.Blob/FetchRemoteFile", {"action", "identity"});
  p.Allow("/grpc.health.v1.Health/", {"gateway", "admin"});
  return p;
}

}  // namespace cloudillo::blob
