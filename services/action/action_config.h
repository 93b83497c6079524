// action's own settings (beyond the shared store/process ones in libs/process and the
// outbound client's in libs/federation).
//
//   CLOUDILLO_ACTION_ADDR              where action's gRPC is reached (listens on its port)
//   CLOUDILLO_IDENTITY_ADDR            where identity is reached
//   CLOUDILLO_BLOB_ADDR                where blob is reached (attachments of inbound actions)
//   CLOUDILLO_OUTBOX_THREADS           delivery threads (default 8)
//   CLOUDILLO_OUTBOX_PER_DESTINATION   concurrent deliveries to one recipient (default 4)
//   CLOUDILLO_INBOX_THREADS            verifier threads (default 4: verifying is CPU work, and a
//                                      lease's rows go in one statement, so few wait on PostgreSQL)
//   CLOUDILLO_INBOX_BATCH              inbound rows one verifier leases at a time (default 32)
//   CLOUDILLO_INBOX_QUEUE              POST /api/inbox requests waiting for their group commit
//                                      before further ones get 503 (default 2048)
//   CLOUDILLO_INBOX_COMMITS            group commits of POST /api/inbox in flight at once (default 3)
//   CLOUDILLO_INBOX_VERIFIER_NICE      the verifier threads' nice value (default 5; 0 to 19):
//                                      answering POSTs goes first when the cores are busy
//   CLOUDILLO_TENANT_CACHE_SECONDS     how long settings and relationships read from identity
//                                      are reused (tenant_cache.h; default 5, 0: never)
//   CLOUDILLO_OUTBOX_LEASE_SECONDS     a claimed delivery's lease (default 90)
//   CLOUDILLO_BUS_MAX_CONNECTIONS      open /ws/bus sockets per process (default 20000)
//   CLOUDILLO_BUS_MAX_PER_TENANT       open /ws/bus sockets of one tenant per process (default 64)
//   CLOUDILLO_INBOX_ISSUER_RATE        inbox limits per issuing node (issuer_limit.h)
#pragma once

#include <string>

#include "bus.h"
#include "cloudillo/cache/local_limiter.h"
#include "cloudillo/core/config.h"
#include "issuer_limit.h"

namespace cloudillo::action {

struct ActionConfig {
  std::string action_addr;
  std::string grpc_listen;
  std::string identity_addr;
  std::string blob_addr;
  int outbox_threads = 8;
  int per_destination = 4;
  int inbox_threads = 4;
  int inbox_batch = 32;
  int inbox_queue = 2048;
  int inbox_commits = 3;
  int inbox_verifier_nice = 5;
  int tenant_cache_seconds = 5;
  int outbox_lease_seconds = 90;
  BusLimits bus;
  cache::BucketLimits issuer_limits = DefaultIssuerLimits();

  static ActionConfig Load(ConfigSource& src) {
    ActionConfig c;
    c.action_addr = src.Str("CLOUDILLO_ACTION_ADDR", "127.0.0.1:9103", "action gRPC address (host:port)");
    c.grpc_listen = src.Str("CLOUDILLO_GRPC_LISTEN", "",
                            "gRPC listen address (default: CLOUDILLO_ACTION_ADDR when it is an IP)");
    c.identity_addr =
        src.Str("CLOUDILLO_IDENTITY_ADDR", "127.0.0.1:9101", "identity gRPC address (host:port)");
    c.blob_addr = src.Str("CLOUDILLO_BLOB_ADDR", "127.0.0.1:9104", "blob gRPC address (host:port)");
    c.outbox_threads = int(src.Int("CLOUDILLO_OUTBOX_THREADS", 8, 1, 256, "outbound delivery threads"));
    c.per_destination =
        int(src.Int("CLOUDILLO_OUTBOX_PER_DESTINATION", 4, 1, 64, "concurrent deliveries to one recipient"));
    c.inbox_threads = int(src.Int("CLOUDILLO_INBOX_THREADS", 4, 1, 256, "inbound verifier threads"));
    c.inbox_batch =
        int(src.Int("CLOUDILLO_INBOX_BATCH", 32, 1, 1000, "inbound rows one verifier leases at a time"));
    c.inbox_queue = int(src.Int("CLOUDILLO_INBOX_QUEUE", 2048, 1, 100000,
                                "inbox requests waiting for their group commit before 503"));
    c.inbox_verifier_nice =
        int(src.Int("CLOUDILLO_INBOX_VERIFIER_NICE", 5, 0, 19, "nice value of the inbox verifier threads"));
    c.inbox_commits = int(
        src.Int("CLOUDILLO_INBOX_COMMITS", 3, 1, 32, "group commits of POST /api/inbox in flight at once"));
    c.tenant_cache_seconds =
        int(src.Int("CLOUDILLO_TENANT_CACHE_SECONDS", 5, 0, 300,
                    "seconds tenant settings and relationships from identity are reused (0: never)"));
    c.outbox_lease_seconds =
        int(src.Int("CLOUDILLO_OUTBOX_LEASE_SECONDS", 90, 2, 3600,
                    "how long a claimed delivery waits before another worker may retry it"));
    c.bus.max_connections = size_t(
        src.Int("CLOUDILLO_BUS_MAX_CONNECTIONS", 20000, 1, 1000000, "open /ws/bus sockets per process"));
    c.bus.max_per_tenant = size_t(src.Int("CLOUDILLO_BUS_MAX_PER_TENANT", 64, 1, 10000,
                                          "open /ws/bus sockets of one tenant per process"));
    auto issuer = cache::ParseBucketSpec(
        "CLOUDILLO_INBOX_ISSUER_RATE",
        src.Str("CLOUDILLO_INBOX_ISSUER_RATE", kDefaultIssuerRate,
                "inbox limits per issuing node: issuer->tenant /s/burst, /h/burst, issuer overall /s/burst, "
                "/h/burst"));
    if (issuer.ok())
      c.issuer_limits = *issuer;
    else
      src.AddError(std::string(issuer.status().message()));
    return c;
  }
};

}  // namespace cloudillo::action
