// The operator endpoints every process serves on its own port:
//   GET /metrics  Prometheus text format of `registry`
//   GET /healthz  200 while the process runs (liveness)
//   GET /readyz   200 when `ready()` is OK, else 503 with its message. Readiness
//                 says whether this process can serve (not draining, started, its
//                 own loops alive), not whether a shared dependency is degraded:
//                 Redis down must not take every pod out of its Service. `ready`
//                 runs on the ops thread and must answer at once (cached checks).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "cloudillo/http/server.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::http {

struct OpsOptions {
  std::string address = "0.0.0.0";
  int port = 0;
  std::shared_ptr<prometheus::Registry> registry;
  std::function<absl::Status()> ready;
  std::function<std::string()> details;  // appended to the /readyz body, when set
};

absl::StatusOr<std::unique_ptr<HttpServer>> StartOpsServer(OpsOptions options);

}  // namespace cloudillo::http
