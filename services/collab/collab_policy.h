// Who may call what on collab's listener (DESIGN "The internal network is hostile"):
// the WebSocket routes only from the gateway, whose RequestContext is trusted only over
// that channel.
#pragma once

#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::collab {

rpc::AccessPolicy ListenerPolicy();

}  // namespace cloudillo::collab
