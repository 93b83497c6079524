// access's own settings (beyond the shared store/process ones in libs/process).
//
//   CLOUDILLO_ACCESS_ADDR                where access's gRPC is reached (listens on its port)
//   CLOUDILLO_IDENTITY_ADDR              where identity is reached
//   CLOUDILLO_LOGIN_FAILURE_DELAY_MS     delay before a failed login answers (default 1000)
#pragma once

#include <string>

#include "absl/time/time.h"
#include "cloudillo/core/config.h"

namespace cloudillo::access {

struct AccessConfig {
  std::string access_addr;
  std::string grpc_listen;
  std::string identity_addr;
  absl::Duration login_failure_delay;

  static AccessConfig Load(ConfigSource& src) {
    AccessConfig c;
    c.access_addr = src.Str("CLOUDILLO_ACCESS_ADDR", "127.0.0.1:9102", "access gRPC address (host:port)");
    c.grpc_listen =
        src.Str("CLOUDILLO_GRPC_LISTEN", "", "override the gRPC listen address (default 0.0.0.0:<port>)");
    c.identity_addr =
        src.Str("CLOUDILLO_IDENTITY_ADDR", "127.0.0.1:9101", "identity gRPC address (host:port)");
    c.login_failure_delay = absl::Milliseconds(src.Int("CLOUDILLO_LOGIN_FAILURE_DELAY_MS", 1000, 0, 10000,
                                                       "delay before a failed login is answered"));
    return c;
  }
};

}  // namespace cloudillo::access
