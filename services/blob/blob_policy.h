// Who may call what on blob's listener (DESIGN "The internal network is hostile"):
// the caller identity is the `<name>.cloudillo.internal` certificate name
// (libs/rpc/cluster_tls.h); anything not listed is refused before a handler runs.
// The REST routes' RequestContext only the gateway may assert; Blob.CheckFileAccess
// (who may open a live document) is collab's alone.
#pragma once

#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::blob {

rpc::AccessPolicy ListenerPolicy();

}  // namespace cloudillo::blob
