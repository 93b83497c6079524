// Helpers for services that answer REST routes (ApiRequest -> ApiReply).
//
// The JSON of each wire shape is written by the service that owns the data, with
// nlohmann::json; these helpers keep the envelope details (raw bodies, extra
// members, status overrides) and the protocol's error codes in one place.
//
// Errors (each returns a Status for the gateway's one mapping table):
//   BadRequest      400 E-VAL-INVALID         InvalidArgument
//   Unauthorized    401 E-AUTH-UNAUTH         Unauthenticated
//   Forbidden       403 E-AUTH-NOPERM         PermissionDenied
//   NotFoundError   404 E-CORE-NOTFOUND       NotFound
//   Conflict        409 E-CORE-CONFLICT       AlreadyExists
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cloudillo/rpc/status.h"
#include "cloudillo/v1/common.pb.h"

namespace cloudillo::rpc {

using json = nlohmann::json;

cloudillo::v1::ApiReply Data(const json& data);
cloudillo::v1::ApiReply Data(const nlohmann::ordered_json& data);  // keeps member order
cloudillo::v1::ApiReply Raw(const json& body, int http_status = 0);
cloudillo::v1::ApiReply NoContent();

absl::Status BadRequest(std::string_view message);
absl::Status Unauthorized(std::string_view message = "Unauthorized");
absl::Status Forbidden(std::string_view message = "You do not have permission to access this resource");
absl::Status NotFoundError(std::string_view message = "Not found");
absl::Status Conflict(std::string_view message);

// Parses the request body as a JSON object. An empty body is `{}` only when
// `empty_ok`. InvalidArgument (400 E-VAL-INVALID) for anything else, including
// invalid UTF-8 and nesting deeper than 64 levels.
absl::StatusOr<json> JsonObjectBody(const cloudillo::v1::ApiRequest& req, bool empty_ok = false);

// Role helpers over the comma-separated `r` claim.
bool HasRole(std::string_view roles, std::string_view role);
// True when the caller is the tenant itself (owner) with an unscoped token.
bool IsOwner(const cloudillo::v1::RequestContext& ctx);

// The query parameter or "".
const std::string& QueryParam(const cloudillo::v1::ApiRequest& req, const std::string& name);
// The routed path parameter or "".
const std::string& PathParam(const cloudillo::v1::ApiRequest& req, const std::string& name);

}  // namespace cloudillo::rpc
