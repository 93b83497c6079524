// Who may call what on access's listener (DESIGN "The internal network is hostile"):
// the caller identity is the `<name>.cloudillo.internal` certificate name
// (libs/rpc/cluster_tls.h); anything not listed is refused before a handler runs.
// Token secrets and API-key resolution are the keys to every tenant: the gateway
// alone may read them; credential changes come only from identity's admin API.
#pragma once

#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::access {

rpc::AccessPolicy ListenerPolicy();

}  // namespace cloudillo::access
