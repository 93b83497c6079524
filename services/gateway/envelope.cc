#include "envelope.h"

#include "absl/time/clock.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/random.h"

#include <cstring>
#include <random>

namespace cloudillo::gateway {

WireError WireErrorFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return {200, ""};
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return {400, "E-VAL-INVALID"};
    case grpc::StatusCode::UNAUTHENTICATED:
      return {401, "E-AUTH-UNAUTH"};
    case grpc::StatusCode::PERMISSION_DENIED:
      return {403, "E-AUTH-NOPERM"};
    case grpc::StatusCode::NOT_FOUND:
      return {404, "E-CORE-NOTFOUND"};
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return {408, "E-NET-TIMEOUT"};
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return {409, "E-CORE-CONFLICT"};
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return {429, "E-RATE-LIMITED"};
    case grpc::StatusCode::UNAVAILABLE:
      return {503, "E-SYS-UNAVAIL"};
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    default:
      return {500, "E-CORE-INTERNAL"};
  }
}

std::string RequestIdFor(const http::Request& req) {
  const std::string& given = req.Header("x-request-id");
  bool ok = !given.empty() && given.size() <= 64;
  for (char c : given) {
    ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  }
  if (ok) return given;
  // Request ids only correlate log lines: a per-thread generator seeded from the
  // kernel's randomness, without a system call per request.
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng([] {
    std::string seed = RandomBytes(8);
    uint64_t v = 0;
    std::memcpy(&v, seed.data(), 8);
    return v;
  }());
  std::string id(8, '0');
  uint64_t bits = rng();
  for (char& c : id) {
    c = kAlphabet[bits % 62];
    bits /= 62;
  }
  return id;
}

http::Response ErrorResponse(int status, std::string_view code, std::string_view message,
                             std::string_view details_json) {
  http::Response res;
  res.status = status;
  std::string body = "{\"error\":{\"code\":";
  AppendJsonString(body, code);
  body += ",\"message\":";
  AppendJsonString(body, message);
  if (!details_json.empty()) {
    body += ",\"details\":";
    body += details_json;
  }
  body += "}}";
  res.body = std::move(body);
  res.error_code = std::string(code);
  res.Set("Content-Type", "application/json");
  res.Set("Cache-Control", "no-store");
  res.Set("Pragma", "no-cache");
  return res;
}

std::string SuccessBody(std::string_view data_json, std::string_view extra_json, std::string_view req_id) {
  std::string body;
  body.reserve(data_json.size() + extra_json.size() + 64);
  body += "{\"data\":";
  body += data_json.empty() ? std::string_view("null") : data_json;
  // extra_json is an object: splice its members in after `data`.
  if (extra_json.size() > 2) {
    body += ',';
    body += extra_json.substr(1, extra_json.size() - 2);
  }
  body += ",\"time\":\"";
  body += FormatIsoSeconds(absl::Now());
  body += "\",\"reqId\":";
  AppendJsonString(body, req_id);
  body += '}';
  return body;
}

namespace {
bool HasHeader(const http::Response& res, std::string_view name) {
  for (const auto& [k, v] : res.headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return true;
  }
  return false;
}
}  // namespace

void DecorateApiResponse(http::Response& res, const http::Request& req, const std::string& req_id,
                         bool cors) {
  res.Set("X-Request-ID", req_id);
  res.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
  res.Set("X-Content-Type-Options", "nosniff");
  res.Set("Referrer-Policy", "strict-origin-when-cross-origin");
  if (!HasHeader(res, "Cache-Control")) res.Set("Cache-Control", "no-store, no-cache");
  if (!HasHeader(res, "Expires")) res.Set("Expires", "0");
  const std::string& origin = req.Header("origin");
  if (cors && !origin.empty()) {
    res.Set("Access-Control-Allow-Origin", origin);
    res.Set("Access-Control-Allow-Credentials", "true");
    res.Set("Vary", "origin, access-control-request-method, access-control-request-headers");
  }
}

http::Response PreflightResponse(const http::Request& req, const std::string& req_id) {
  // Origin, credentials, Vary and the security headers come from DecorateApiResponse.
  http::Response res;
  res.status = 200;
  if (const std::string& m = req.Header("access-control-request-method"); !m.empty()) {
    res.Set("Access-Control-Allow-Methods", m);
  }
  if (const std::string& h = req.Header("access-control-request-headers"); !h.empty()) {
    res.Set("Access-Control-Allow-Headers", h);
  }
  return res;
}

}  // namespace cloudillo::gateway
