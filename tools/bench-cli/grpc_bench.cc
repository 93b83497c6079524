// Closed-loop load on identity's gRPC API, for comparison with the same call through
// the gateway: `grpc_bench --addr=H:P --tenants=tn:idtag,... [--threads=N]
// [--seconds=S] [--method=GetMeFull|GetMe]`. Prints requests/s and latency percentiles.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/v1/identity.grpc.pb.h"

int main(int argc, char** argv) {
  std::map<std::string, std::string> o = {{"addr", "127.0.0.1:9101"},
                                          {"threads", "16"},
                                          {"seconds", "10"},
                                          {"method", "GetMeFull"},
                                          {"tenants", "1:demo.localhost"}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(
          stderr,
          "usage: grpc_bench --addr=H:P --tenants=tn:idtag,... [--threads=N] [--seconds=S] [--method=M]\n");
      return 2;
    }
    o[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
  std::vector<std::pair<int64_t, std::string>> tenants;
  for (size_t start = 0; start < o["tenants"].size();) {
    size_t comma = o["tenants"].find(',', start);
    if (comma == std::string::npos) comma = o["tenants"].size();
    std::string t = o["tenants"].substr(start, comma - start);
    size_t colon = t.find(':');
    tenants.emplace_back(std::atoll(t.substr(0, colon).c_str()), t.substr(colon + 1));
    start = comma + 1;
  }
  int threads = std::atoi(o["threads"].c_str());
  double seconds = std::atof(o["seconds"].c_str());
  bool full = o["method"] == "GetMeFull";
  // The edge service admits only the gateway: the benchmark presents a gateway certificate.
  cloudillo::rpc::ClusterTls tls{o["ca"], o["cert"], o["key"], ""};
  if (absl::Status st = tls.Validate(); !st.ok()) {
    std::fprintf(stderr, "TLS: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  auto channel = cloudillo::rpc::ConnectChannel(o["addr"], &tls, "identity");
  auto stub = cloudillo::v1::IdentityEdge::NewStub(channel);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0};
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> workers;
  auto t0 = std::chrono::steady_clock::now();
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      size_t i = w;
      while (!stop) {
        const auto& [tn, id_tag] = tenants[i++ % tenants.size()];
        cloudillo::v1::ApiRequest req;
        req.mutable_ctx()->set_tn_id(tn);
        req.mutable_ctx()->set_id_tag(id_tag);
        req.mutable_ctx()->set_authenticated(true);
        req.mutable_ctx()->set_subject(id_tag);
        req.mutable_ctx()->set_auth_kind("token");
        cloudillo::v1::ApiReply reply;
        grpc::ClientContext ctx;
        auto s = std::chrono::steady_clock::now();
        grpc::Status st = full ? stub->GetMeFull(&ctx, req, &reply) : stub->GetMe(&ctx, req, &reply);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
        if (!st.ok()) ++errors;
        lat[w].push_back(ms);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : workers) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, size_t(p * all.size()))];
  };
  std::printf("requests=%zu errors=%lld rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f\n", all.size(),
              (long long)errors.load(), all.size() / elapsed, pct(0.5), pct(0.9), pct(0.99));
  return errors > 0 ? 1 : 0;
}
