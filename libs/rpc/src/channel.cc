#include "cloudillo/rpc/channel.h"

#include "cloudillo/rpc/cluster_tls.h"

namespace cloudillo::rpc {

std::shared_ptr<grpc::Channel> ConnectChannel(const std::string& address, const ClusterTls* tls,
                                              const std::string& service) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 5000);
  args.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  std::string target = address.find("://") == std::string::npos && address.rfind("dns:", 0) != 0
                           ? "dns:///" + address
                           : address;
  if (tls == nullptr) return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  // The server must present `<service>.cloudillo.internal`, whatever address we dialled.
  args.SetSslTargetNameOverride(service + kClusterDomain);
  return grpc::CreateCustomChannel(target, ChannelCredentials(*tls), args);
}

std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return ctx;
}

}  // namespace cloudillo::rpc
