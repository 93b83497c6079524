// The admin audit trail: one JSON log line (`admin_audit`) per admin call, whatever
// its outcome (refused for a missing credential, invalid, failed or done), from the
// gRPC listener and the HTTP mapping alike: the method, who called (the cluster
// identity, or "http" on the HTTP listener) and from where, what it targeted (an
// id_tag, a plan or an address, never a secret), the result and how long it took.
// Successful calls log at info, the others at warn.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cloudillo/core/log.h"

namespace cloudillo::identity {

struct AdminAudit {
  std::string method;
  std::string caller;
  std::string peer;
  std::string target;

  void Log(const absl::Status& status, absl::Duration took) const {
    cloudillo::Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarn, "admin_audit",
                   {{"method", method},
                    {"caller", caller},
                    {"peer", peer},
                    {"target", target.substr(0, 256)},
                    {"result", absl::StatusCodeToString(status.code())},
                    {"error", std::string(status.message())},
                    {"ms", absl::ToDoubleMilliseconds(took)}});
  }
};

}  // namespace cloudillo::identity
