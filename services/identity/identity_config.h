// identity's own settings (beyond the shared store/process ones in libs/process).
//
//   CLOUDILLO_IDENTITY_ADDR   where identity's gRPC is reached (listens on its port)
//   CLOUDILLO_ADMIN_ADDR      listen address of the admin gRPC API
//   CLOUDILLO_ADMIN_HTTP_ADDR listen address of the admin API's HTTP/JSON mapping
//                             (admin_http.h); empty: not served
//   CLOUDILLO_ADMIN_TOKEN     bearer the admin API requires (required)
//   CLOUDILLO_ACCESS_ADDR     where access is reached
//   CLOUDILLO_BLOB_ADDR       where blob is reached (storage usage)
#pragma once

#include <string>

#include "cloudillo/core/config.h"

namespace cloudillo::identity {

struct IdentityConfig {
  std::string identity_addr;
  std::string grpc_listen;
  std::string admin_addr;
  std::string admin_http_addr;
  std::string admin_token;
  std::string access_addr;
  std::string blob_addr;

  static IdentityConfig Load(ConfigSource& src) {
    IdentityConfig c;
    c.identity_addr =
        src.Str("CLOUDILLO_IDENTITY_ADDR", "127.0.0.1:9101", "identity gRPC address (host:port)");
    c.grpc_listen = src.Str("CLOUDILLO_GRPC_LISTEN", "",
                            "gRPC listen address (default: CLOUDILLO_IDENTITY_ADDR when it is an IP)");
    c.admin_addr = src.Str("CLOUDILLO_ADMIN_ADDR", "127.0.0.1:9100", "admin gRPC API listen address");
    c.admin_http_addr = src.Str("CLOUDILLO_ADMIN_HTTP_ADDR", "",
                                "admin API HTTP/JSON listen address (host:port); empty: not served");
    c.admin_token =
        src.RequiredSecret("CLOUDILLO_ADMIN_TOKEN", "bearer token for the admin API (cloudillo-admin)");
    c.access_addr = src.Str("CLOUDILLO_ACCESS_ADDR", "127.0.0.1:9102", "access gRPC address (host:port)");
    c.blob_addr = src.Str("CLOUDILLO_BLOB_ADDR", "127.0.0.1:9104", "blob gRPC address (host:port)");
    return c;
  }
};

}  // namespace cloudillo::identity
