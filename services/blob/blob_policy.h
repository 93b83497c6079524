// Who may call what on blob's listener (DESIGN "The internal network is hostile"):
// the caller identity is the `<name>.cloudillo.internal` certificate name
// (libs/rpc/cluster_tls.h); anything not listed is refused before a handler runs.
// Every blob RPC is a REST route whose RequestContext only the gateway may assert.
#pragma once

#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::blob {

rpc::AccessPolicy ListenerPolicy();

}  // namespace cloudillo::blob
