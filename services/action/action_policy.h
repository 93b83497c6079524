// Who may call which method of the action service (DESIGN "The internal network is
// hostile"): the REST routes only from the gateway, whose RequestContext is trusted
// only over that channel.
#pragma once

#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::action {

rpc::AccessPolicy ListenerPolicy();

}  // namespace cloudillo::action
