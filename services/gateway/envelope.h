// The REST envelope (PROTOCOL §0.2, Appendix C, D items 1-8): success bodies, error
// bodies, and the one table from gRPC status to HTTP status and wire code
// (EXAMPLES.md item 2). Also the request id and the headers every API answer carries.
#pragma once

#include <string>
#include <string_view>

#include "cloudillo/http/server.h"
#include "grpcpp/support/status.h"

namespace cloudillo::gateway {

struct WireError {
  int http_status;
  const char* code;
};
// Default HTTP status and code for a gRPC code, used when the service attached none.
WireError WireErrorFor(grpc::StatusCode code);

// The caller's X-Request-ID if it is 1-64 chars of [A-Za-z0-9_.-], else 8 random alphanumerics.
std::string RequestIdFor(const http::Request& req);

http::Response ErrorResponse(int status, std::string_view code, std::string_view message,
                             std::string_view details_json = {});
// {"data":…,<extra members>,"time":"…","reqId":"…"}
std::string SuccessBody(std::string_view data_json, std::string_view extra_json, std::string_view req_id);

// Adds X-Request-ID, HSTS, nosniff, Referrer-Policy, and (unless set) the no-cache
// pair; echoes Origin for CORS with credentials when the request had one.
// `cors` is false for unrouted paths, which the reference answers without CORS.
void DecorateApiResponse(http::Response& res, const http::Request& req, const std::string& req_id,
                         bool cors = true);
// A CORS preflight answer (Appendix C.12), to be passed through DecorateApiResponse.
http::Response PreflightResponse(const http::Request& req, const std::string& req_id);

}  // namespace cloudillo::gateway
