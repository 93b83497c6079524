// Channels between services. Each spreads calls over every address its name resolves
// to (`round_robin` over DNS, so a gateway uses every replica behind a headless
// Service), keeps connections alive with pings, and re-resolves when a connection
// ends; servers cap connection age (server.h) so new replicas are found within
// minutes. With `tls`, the channel presents this process's certificate and accepts
// only a server whose certificate names `<service>.cloudillo.internal`.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace cloudillo::rpc {

struct ClusterTls;

// `address` is host:port (a DNS name or an IP literal) or a full gRPC target URI.
// `tls` nullptr gives a plaintext channel, for tests only.
std::shared_ptr<grpc::Channel> ConnectChannel(const std::string& address, const ClusterTls* tls,
                                              const std::string& service);

// A client context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration timeout);

}  // namespace cloudillo::rpc
