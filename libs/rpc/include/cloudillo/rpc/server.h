// gRPC server plumbing shared by every service binary and the all-in-one binary.
//
// RpcServer registers services, enables the standard grpc.health.v1 service (with
// per-service status), counts every call in Prometheus (calls by method and code,
// latency histogram, in-flight gauge) and drains on Shutdown(): new calls are
// refused, running ones get `grace` to finish.
//
// Start() returns the bound port (so tests can bind port 0), or Unavailable when the
// address cannot be bound.
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
  // `address` may be empty for an in-process-only server (all-in-one mode).
  absl::StatusOr<int> Start(const std::string& address);
  std::shared_ptr<grpc::Channel> InProcessChannel();
  void SetServing(bool serving);
  void Shutdown(absl::Duration grace);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<grpc::Server> server_;
};

// A channel to another service: insecure on the cluster network, with keepalive.
std::shared_ptr<grpc::Channel> ConnectChannel(const std::string& address);

// A client context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration timeout);

}  // namespace cloudillo::rpc
