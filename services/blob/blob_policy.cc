#include "blob_policy.h"

namespace cloudillo::blob {

rpc::AccessPolicy ListenerPolicy() {
  rpc::AccessPolicy p;
  p.Allow("/cloudillo.v1.BlobEdge/", {"gateway"});
  // Live documents ask who may open them (PROTOCOL §5.1).
  p.Allow("/cloudillo.v1.Blob/CheckFileAccess", {"collab"});
  // Attachments of incoming actions (action) and remote avatars (identity), PROTOCOL §4.6.
  p.Allow("/cloudillo.v1.RemoteFiles/FetchRemoteFile", {"action", "identity"});
  // Storage usage for the admin API, which identity serves.
  p.Allow("/cloudillo.v1.BlobInternal/GetStorageUsage", {"identity"});
  // Files a tenant attaches to its new action open to the action's audience.
  p.Allow("/cloudillo.v1.BlobInternal/RaiseVisibility", {"action"});
  p.Allow("/grpc.health.v1.Health/", {"gateway", "collab", "admin"});
  return p;
}

}  // namespace cloudillo::blob
