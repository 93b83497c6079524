// Mutual TLS on the internal network (DESIGN "The internal network is hostile").
//
// Every internal gRPC listener requires a client certificate signed by the cluster
// CA, and every channel presents this process's certificate and verifies that the
// server it reached is the service it meant to reach. A process's identity is the
// first label of its certificate's DNS name `<name>.cloudillo.internal` (gateway,
// identity, access, admin, …); tools/cluster-certs makes such certificates, and in
// Kubernetes they come from a Secret or cert-manager. Files are re-read every minute,
// so a rotated certificate takes effect without a restart.
//
//   CLOUDILLO_GRPC_CA    PEM bundle of the cluster CA
//   CLOUDILLO_GRPC_CERT  this process's certificate (chain)
//   CLOUDILLO_GRPC_KEY   its private key
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cloudillo/core/config.h"

namespace grpc {
class ServerCredentials;
class ChannelCredentials;
class AuthContext;
}  // namespace grpc

namespace cloudillo::rpc {

class AccessPolicy;

inline constexpr char kClusterDomain[] = ".cloudillo.internal";

struct ClusterTls {
  std::string ca_file, cert_file, key_file;
  std::string identity;  // from the certificate, filled by Validate()

  // Reads the three variables; when `required`, a missing one is a configuration error.
  static ClusterTls Load(ConfigSource& src, bool required = true);
  bool enabled() const { return !cert_file.empty(); }

  // Checks at startup what would otherwise fail on the first call: the files read and
  // parse, the key matches the certificate, the certificate chains to the CA, and it
  // names a `<name>.cloudillo.internal` identity (then stored in `identity`).
  // InvalidArgument naming the file and the problem.
  absl::Status Validate();
};

// Server credentials requiring and verifying client certificates, with `policy`
// deciding per method which caller identities may call (PERMISSION_DENIED otherwise).
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const ClusterTls& tls,
                                                           std::shared_ptr<AccessPolicy> policy);

// Channel credentials presenting this process's certificate.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClusterTls& tls);

// The caller identity of an authenticated peer (`gateway`, …), or "" when none.
std::string CallerIdentity(const grpc::AuthContext& ctx);

}  // namespace cloudillo::rpc
