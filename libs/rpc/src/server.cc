#include "cloudillo/rpc/server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>

#include "cloudillo/core/log.h"

namespace cloudillo::rpc {
namespace {

struct RpcMetrics {
  explicit RpcMetrics(prometheus::Registry& r)
      : calls(prometheus::BuildCounter()
                  .Name("cloudillo_grpc_server_calls_total")
                  .Help("gRPC calls handled, by method and status code")
                  .Register(r)),
        latency(prometheus::BuildHistogram()
                    .Name("cloudillo_grpc_server_latency_seconds")
                    .Help("gRPC call latency by method")
                    .Register(r)),
        in_flight(prometheus::BuildGauge()
                      .Name("cloudillo_grpc_server_in_flight")
                      .Help("gRPC calls in progress")
                      .Register(r)
                      .Add({})) {}
  prometheus::Family<prometheus::Counter>& calls;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Gauge& in_flight;
};

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return b;
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* m) : info_(info), m_(m) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using H = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(H::POST_RECV_INITIAL_METADATA)) {
      start_ = std::chrono::steady_clock::now();
      m_->in_flight.Increment();
      started_ = true;
    }
    if (methods->QueryInterceptionHookPoint(H::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    if (methods->QueryInterceptionHookPoint(H::POST_RECV_CLOSE) && started_) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      std::string method = info_->method() ? info_->method() : "unknown";
      m_->calls.Add({{"method", method}, {"code", std::to_string(int(code_))}}).Increment();
      m_->latency.Add({{"method", method}}, LatencyBuckets()).Observe(secs);
      m_->in_flight.Decrement();
      started_ = false;
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  RpcMetrics* m_;
  std::chrono::steady_clock::time_point start_;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
  bool started_ = false;
};

class MetricsInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(std::shared_ptr<RpcMetrics> m) : m_(std::move(m)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, m_.get());
  }

 private:
  std::shared_ptr<RpcMetrics> m_;
};

}  // namespace

RpcServer::RpcServer(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {}
RpcServer::~RpcServer() { Shutdown(absl::ZeroDuration()); }

void RpcServer::AddService(grpc::Service* service) { services_.push_back(service); }

absl::StatusOr<int> RpcServer::Start(const std::string& address) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  if (!address.empty()) builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  for (auto* s : services_) builder.RegisterService(s);
  builder.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  // Families of the same name merge in one registry, so several servers in one
  // process (all-in-one) share them; the registry outlives the server (held above).
  factories.push_back(std::make_unique<MetricsInterceptorFactory>(std::make_shared<RpcMetrics>(*registry_)));
  builder.experimental().SetInterceptorCreators(std::move(factories));
  server_ = builder.BuildAndStart();
  if (!server_ || (!address.empty() && port == 0)) {
    return absl::UnavailableError("cannot listen for gRPC on '" + address + "'");
  }
  SetServing(true);
  return port;
}

std::shared_ptr<grpc::Channel> RpcServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

void RpcServer::SetServing(bool serving) {
  if (server_ && server_->GetHealthCheckService())
    server_->GetHealthCheckService()->SetServingStatus(serving);
}

void RpcServer::Shutdown(absl::Duration grace) {
  if (!server_) return;
  SetServing(false);
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  server_.reset();
}

std::shared_ptr<grpc::Channel> ConnectChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return ctx;
}

}  // namespace cloudillo::rpc
