#include "cloudillo/rpc/server.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace cloudillo::rpc {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return b;
}

// "/pkg.Service/Method" when the generated code knows that method, else "other".
std::string MethodLabel(const char* method) {
  if (method == nullptr || method[0] != '/') return "other";
  std::string m(method + 1);
  size_t slash = m.find('/');
  if (slash == std::string::npos) return "other";
  m[slash] = '.';
  if (google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(m) == nullptr) return "other";
  return method;
}

// Metric handles per method and code, made on first use from a closed set (known
// methods x 17 codes), so the per-call cost is a map lookup.
class RpcMetrics {
 public:
  explicit RpcMetrics(prometheus::Registry& r)
      : calls_(prometheus::BuildCounter()
                   .Name("cloudillo_grpc_server_calls_total")
                   .Help("gRPC calls handled, by method and status code")
                   .Register(r)),
        latency_(prometheus::BuildHistogram()
                     .Name("cloudillo_grpc_server_latency_seconds")
                     .Help("gRPC call latency by method")
                     .Register(r)),
        in_flight_(prometheus::BuildGauge()
                       .Name("cloudillo_grpc_server_in_flight")
                       .Help("gRPC calls in progress")
                       .Register(r)
                       .Add({})) {}

  struct Handles {
    std::string label;
    prometheus::Histogram* latency;
    std::atomic<prometheus::Counter*> by_code[17] = {};  // made on first use of a code
  };

  Handles& For(const char* method) {
    std::string key = method ? method : "";
    {
      std::shared_lock lock(mu_);
      auto it = handles_.find(key);
      if (it != handles_.end()) return *it->second;
    }
    std::string label = MethodLabel(method);
    std::unique_lock lock(mu_);
    // Unknown names all share the "other" handles and are not remembered by name.
    auto& slot = handles_[label == "other" ? "other" : key];
    if (!slot) {
      slot = std::make_unique<Handles>();
      slot->label = label;
      slot->latency = &latency_.Add({{"method", label}}, LatencyBuckets());
    }
    return *slot;
  }

  prometheus::Counter& Calls(Handles& h, int code) {
    if (code < 0 || code >= 17) code = 2;  // UNKNOWN
    prometheus::Counter* c = h.by_code[code].load(std::memory_order_acquire);
    if (c) return *c;
    std::unique_lock lock(mu_);
    c = h.by_code[code].load();
    if (!c) {
      c = &calls_.Add({{"method", h.label}, {"code", std::to_string(code)}});
      h.by_code[code].store(c, std::memory_order_release);
    }
    return *c;
  }

  prometheus::Gauge& in_flight() { return in_flight_; }

 private:
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Gauge& in_flight_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Handles>> handles_;
};

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* m) : info_(info), m_(m) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using H = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(H::POST_RECV_INITIAL_METADATA)) {
      start_ = std::chrono::steady_clock::now();
      m_->in_flight().Increment();
      started_ = true;
    }
    if (methods->QueryInterceptionHookPoint(H::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    if (methods->QueryInterceptionHookPoint(H::POST_RECV_CLOSE) && started_) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      auto& h = m_->For(info_->method());
      m_->Calls(h, int(code_)).Increment();
      h.latency->Observe(secs);
      m_->in_flight().Decrement();
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

absl::StatusOr<int> RpcServer::Start(const std::string& address,
                                     std::shared_ptr<grpc::ServerCredentials> credentials) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  if (!address.empty()) {
    if (!credentials) return absl::InvalidArgumentError("a network gRPC listener needs credentials");
    builder.AddListeningPort(address, credentials, &port);
  }
  for (auto* s : services_) builder.RegisterService(s);
  builder.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  // Accept the clients' keepalive pings, ping idle clients ourselves, and age
  // connections out so that clients re-resolve DNS and spread over new replicas.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, 5 * 60 * 1000);
  if (!long_streams_) builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 30 * 1000);
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

}  // namespace cloudillo::rpc
