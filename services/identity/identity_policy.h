// Who may call what on identity's listeners (DESIGN "The internal network is
// hostile"): the caller identity is the `<name>.cloudillo.internal` certificate name
// (libs/rpc/cluster_tls.h); anything not listed is refused before a handler runs.
#pragma once

#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::identity {

// The main listener: Identity (internal lookups) and IdentityEdge (REST routes).
rpc::AccessPolicy ListenerPolicy();
// The admin listener: the provider's admin CLI only.
rpc::AccessPolicy AdminListenerPolicy();

}  // namespace cloudillo::identity
