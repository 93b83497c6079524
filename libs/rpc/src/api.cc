#include "cloudillo/rpc/api.h"

#include "cloudillo/core/utf8.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::rpc {

cloudillo::v1::ApiReply Data(const json& data) {
  cloudillo::v1::ApiReply r;
  r.set_data_json(data.dump());
  return r;
}

cloudillo::v1::ApiReply Data(const nlohmann::ordered_json& data) {
  cloudillo::v1::ApiReply r;
  r.set_data_json(data.dump());
  return r;
}

cloudillo::v1::ApiReply Raw(const json& body, int http_status) {
  cloudillo::v1::ApiReply r;
  r.set_data_json(body.dump());
  r.set_raw(true);
  r.set_http_status(http_status);
  return r;
}

cloudillo::v1::ApiReply NoContent() {
  cloudillo::v1::ApiReply r;
  r.set_http_status(204);
  r.set_empty_body(true);
  return r;
}

absl::Status BadRequest(std::string_view m) {
  return ApiError(absl::StatusCode::kInvalidArgument, "E-VAL-INVALID", m);
}
absl::Status Unauthorized(std::string_view m) {
  return ApiError(absl::StatusCode::kUnauthenticated, "E-AUTH-UNAUTH", m);
}
absl::Status Forbidden(std::string_view m) {
  return ApiError(absl::StatusCode::kPermissionDenied, "E-AUTH-NOPERM", m);
}
absl::Status NotFoundError(std::string_view m) {
  return ApiError(absl::StatusCode::kNotFound, "E-CORE-NOTFOUND", m);
}
absl::Status Conflict(std::string_view m) {
  return ApiError(absl::StatusCode::kAlreadyExists, "E-CORE-CONFLICT", m);
}

namespace {
bool TooDeep(const std::string& s, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}
}  // namespace

absl::StatusOr<json> JsonObjectBody(const cloudillo::v1::ApiRequest& req, bool empty_ok) {
  if (req.body().empty()) {
    if (empty_ok) return json::object();
    return BadRequest("request body must be a JSON object");
  }
  // nlohmann's parser passes invalid UTF-8 through (and then throws when writing it).
  if (!IsValidUtf8(req.body())) return BadRequest("request body is not valid UTF-8");
  // nlohmann's parser recurses; refuse deep nesting before it can exhaust the stack.
  if (TooDeep(req.body(), 64)) return BadRequest("JSON nested too deeply");
  json j = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return BadRequest("malformed JSON body");
  if (!j.is_object()) return BadRequest("request body must be a JSON object");
  return j;
}

bool HasRole(std::string_view roles, std::string_view role) {
  size_t start = 0;
  while (start <= roles.size()) {
    size_t comma = roles.find(',', start);
    std::string_view r =
        roles.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (r == role) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

bool IsOwner(const cloudillo::v1::RequestContext& ctx) {
  return ctx.authenticated() && ctx.scope().empty() && ctx.subject() == ctx.id_tag();
}

const std::string& QueryParam(const cloudillo::v1::ApiRequest& req, const std::string& name) {
  static const std::string kEmpty;
  auto it = req.query().find(name);
  return it == req.query().end() ? kEmpty : it->second;
}

const std::string& PathParam(const cloudillo::v1::ApiRequest& req, const std::string& name) {
  static const std::string kEmpty;
  auto it = req.path().find(name);
  return it == req.path().end() ? kEmpty : it->second;
}

}  // namespace cloudillo::rpc
