// gRPC server plumbing shared by every service binary and the all-in-one binary.
//
// RpcServer registers services (callback services: see dispatch.h), enables the
// standard grpc.health.v1 service, counts every call in Prometheus (calls by method
// and code, latency, in flight; methods outside the generated descriptor pool are
// counted as "other", so hostile method names cannot add series) and drains on
// Shutdown(): new calls are refused, running ones get `grace` to finish. Connections
// are aged out after a few minutes so clients re-resolve and find new replicas.
//
// Start() returns the bound port (tests bind port 0), or Unavailable when the address
// cannot be bound.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::rpc {

class RpcServer {
 public:
  explicit RpcServer(std::shared_ptr<prometheus::Registry> registry);
  ~RpcServer();

  void AddService(grpc::Service* service);
  // Before Start(): calls without a deadline (WebSockets bridged by the gateway, which
  // live as long as the client wants) survive the ageing of their connection. An aged
  // connection still refuses new calls (clients move to a fresh one), but is not cut
  // after the usual 30 s grace, which would close every socket on it.
  void KeepLongStreams() { long_streams_ = true; }
  // Listens on `address` with `credentials` (cluster_tls.h ServerCredentials for any
  // network listener). An empty address serves only the in-process channel
  // (all-in-one mode), where no credentials apply.
  absl::StatusOr<int> Start(const std::string& address, std::shared_ptr<grpc::ServerCredentials> credentials);
  std::shared_ptr<grpc::Channel> InProcessChannel();
  void SetServing(bool serving);
  void Shutdown(absl::Duration grace);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<grpc::Server> server_;
  bool long_streams_ = false;
};

}  // namespace cloudillo::rpc
