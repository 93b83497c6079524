#include "cloudillo/http/ops.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace cloudillo::http {

absl::StatusOr<std::unique_ptr<HttpServer>> StartOpsServer(OpsOptions o) {
  ServerOptions s;
  s.address = o.address;
  s.port = o.port;
  s.threads = 1;
  s.body_plan = [](const Request&) { return BodyPlan{0, false}; };
  s.handler = [registry = o.registry, ready = o.ready, details = o.details](std::shared_ptr<Exchange> ex) {
    const Request& req = ex->request();
    Response res;
    res.Set("Content-Type", "text/plain; charset=utf-8");
    if (req.method != "GET") {
      res.status = 405;
      res.body = "method not allowed\n";
    } else if (req.path == "/metrics") {
      res.headers.clear();
      res.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      res.body = prometheus::TextSerializer().Serialize(registry->Collect());
    } else if (req.path == "/healthz") {
      res.body = "ok\n";
    } else if (req.path == "/readyz") {
      absl::Status st = ready ? ready() : absl::OkStatus();
      res.status = st.ok() ? 200 : 503;
      res.body = st.ok() ? "ready\n" : std::string(st.message()) + "\n";
      if (details) res.body += details();
    } else {
      res.status = 404;
      res.body = "not found\n";
    }
    ex->Respond(std::move(res));
  };
  return HttpServer::Start(std::move(s));
}

}  // namespace cloudillo::http
