// access's own settings (beyond the shared store/process ones in libs/process and the
// outbound client's in libs/federation, used by the PROXY exchange).
//
//   CLOUDILLO_ACCESS_ADDR                where access's gRPC is reached (listens on its port)
//   CLOUDILLO_IDENTITY_ADDR              where identity is reached
//   CLOUDILLO_LOGIN_FAILURE_DELAY_MS     delay before a failed login answers (default 1000)
//   CLOUDILLO_PASSWORD_HASH_MEMORY_MB    memory for concurrent Argon2id hashes (19 MiB each)
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
  int password_hash_slots = 13;  // concurrent Argon2id hashes

  static AccessConfig Load(ConfigSource& src) {
    AccessConfig c;
    c.access_addr = src.Str("CLOUDILLO_ACCESS_ADDR", "127.0.0.1:9102", "access gRPC address (host:port)");
    c.grpc_listen = src.Str("CLOUDILLO_GRPC_LISTEN", "",
                            "gRPC listen address (default: CLOUDILLO_ACCESS_ADDR when it is an IP)");
    c.identity_addr =
        src.Str("CLOUDILLO_IDENTITY_ADDR", "127.0.0.1:9101", "identity gRPC address (host:port)");
    c.login_failure_delay = absl::Milliseconds(src.Int("CLOUDILLO_LOGIN_FAILURE_DELAY_MS", 1000, 0, 10000,
                                                       "delay before a failed login is answered"));
    int64_t mb = src.Int("CLOUDILLO_PASSWORD_HASH_MEMORY_MB", 256, 19, 65536,
                         "memory for concurrent Argon2id password hashes (19 MiB each); logins beyond "
                         "twice that many waiting get 503");
    c.password_hash_slots = int(mb / 19);
    return c;
  }
};

}  // namespace cloudillo::access
