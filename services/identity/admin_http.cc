#include "admin_http.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::identity {
namespace {

struct Wire {
  int status;
  const char* code;
};

Wire WireFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return {400, "E-VAL-INVALID"};
    case absl::StatusCode::kUnauthenticated:
      return {401, "E-AUTH-UNAUTH"};
    case absl::StatusCode::kPermissionDenied:
      return {403, "E-AUTH-NOPERM"};
    case absl::StatusCode::kNotFound:
      return {404, "E-CORE-NOTFOUND"};
    case absl::StatusCode::kDeadlineExceeded:
      return {408, "E-NET-TIMEOUT"};
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return {409, "E-CORE-CONFLICT"};
    case absl::StatusCode::kResourceExhausted:
      return {429, "E-RATE-LIMITED"};
    case absl::StatusCode::kUnavailable:
      return {503, "E-SYS-UNAVAIL"};
    default:
      return {500, "E-SYS-INTERNAL"};
  }
}

http::Response Json(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.Set("content-type", "application/json");
  r.Set("cache-control", "no-store");
  r.body = std::move(body);
  return r;
}

// A call of the route table: which Admin method, and how to build its request.
struct Call {
  std::string method;  // for the audit line
  std::string target;
  std::function<absl::StatusOr<std::string>()> run;  // the answer's `data` as JSON
};

template <typename Message>
absl::Status ParseBody(const std::string& body, Message* m) {
  if (body.empty()) return absl::OkStatus();
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(body, m, o);
  if (!st.ok()) return absl::InvalidArgumentError("invalid JSON body for this call");
  return absl::OkStatus();
}

template <typename Message>
absl::StatusOr<std::string> ToJson(const absl::StatusOr<Message>& r) {
  if (!r.ok()) return r.status();
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(*r, &out, o).ok()) return absl::InternalError("encoding");
  return out;
}

std::string QueryValue(const std::string& query, std::string_view name) {
  for (absl::string_view kv : absl::StrSplit(AV(query), '&')) {
    auto eq = kv.find('=');
    absl::string_view key = kv.substr(0, eq);
    if (std::string_view(key.data(), key.size()) == name)
      return eq == absl::string_view::npos ? "" : std::string(kv.substr(eq + 1));
  }
  return "";
}

absl::StatusOr<int32_t> QueryInt(const std::string& query, std::string_view name) {
  std::string v = QueryValue(query, name);
  if (v.empty()) return 0;
  int32_t n = 0;
  if (!absl::SimpleAtoi(AV(v), &n) || n < 0)
    return absl::InvalidArgumentError(std::string(name) + " must be a number");
  return n;
}

}  // namespace

http::Response AdminErrorResponse(const absl::Status& status) {
  Wire w = WireFor(status.code());
  nlohmann::json body = {{"error", {{"code", w.code}, {"message", std::string(status.message())}}}};
  http::Response r = Json(w.status, body.dump());
  r.error_code = w.code;
  if (w.status == 401) r.Set("www-authenticate", "Bearer");
  return r;
}

absl::StatusOr<std::unique_ptr<http::HttpServer>> StartAdminHttp(const std::string& address, AdminHttp& api) {
  if (address.empty()) return std::unique_ptr<http::HttpServer>();
  auto colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(AV(address.substr(colon + 1)), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError("CLOUDILLO_ADMIN_HTTP_ADDR must be host:port");
  }
  http::ServerOptions o;
  o.address = address.substr(0, colon);
  if (o.address.size() > 2 && o.address.front() == '[') o.address = o.address.substr(1, o.address.size() - 2);
  o.port = port;
  o.threads = 1;  // the calls run on the worker pool
  o.max_connections = 256;
  api.Configure(o);
  return http::HttpServer::Start(std::move(o));
}

void AdminHttp::Configure(http::ServerOptions& options) {
  options.handler = [this](std::shared_ptr<http::Exchange> ex) { Handle(std::move(ex)); };
  options.on_bad_request = [](int status, const std::string& reason) {
    http::Response r = AdminErrorResponse(absl::InvalidArgumentError(reason));
    r.status = status;
    return r;
  };
  options.on_internal_error = [] { return AdminErrorResponse(absl::InternalError("internal error")); };
  options.max_body_limit = 64 * 1024;
  options.body_plan = [](const http::Request&) { return http::BodyPlan{64 * 1024, false}; };
}

void AdminHttp::Handle(std::shared_ptr<http::Exchange> ex) {
  bool queued = workers_.TrySubmit([this, ex] {
    const http::Request& req = ex->request();
    absl::Time start = absl::Now();
    AdminAudit audit{"unknown", "http", req.client_ip, ""};
    auto finish = [&](const absl::StatusOr<std::string>& data, int ok_status) {
      audit.Log(data.status(), absl::Now() - start);
      if (!data.ok()) return ex->Respond(AdminErrorResponse(data.status()));
      ex->Respond(Json(ok_status, "{\"data\":" + *data + "}"));
    };
    // The credential first: a caller without it learns nothing, not even which routes exist.
    if (absl::Status auth = admin_.AuthorizeBearer(req.Header("authorization")); !auth.ok()) {
      return finish(auth, 200);
    }
    std::vector<std::string> seg;
    const std::string prefix = "/admin/v1/";
    if (req.path.rfind(prefix, 0) == 0) seg = absl::StrSplit(AV(req.path.substr(prefix.size())), '/');
    const std::string& m = req.method;
    const std::string& q = req.query;
    auto is = [&](std::initializer_list<const char*> want) {
      if (seg.size() != want.size()) return false;
      size_t i = 0;
      for (const char* w : want) {
        if (std::string_view(w) != "*" && seg[i] != w) return false;
        if (std::string_view(w) == "*" && seg[i].empty()) return false;
        ++i;
      }
      return true;
    };
    int ok_status = 200;
    absl::StatusOr<std::string> data = absl::NotFoundError("no such admin route");
    auto call = [&](const char* method, std::string target, auto fn) {
      audit.method = method;
      audit.target = std::move(target);
      data = fn();
    };
    if (m == "GET" && is({"tenants"})) {
      call("ListTenants", QueryValue(q, "after"), [&]() -> absl::StatusOr<std::string> {
        cloudillo::v1::ListTenantsRequest r;
        auto limit = QueryInt(q, "limit");
        if (!limit.ok()) return limit.status();
        r.set_limit(*limit);
        r.set_after_id_tag(QueryValue(q, "after"));
        return ToJson(admin_.DoListTenants(r));
      });
    } else if (m == "POST" && is({"tenants"})) {
      cloudillo::v1::CreateTenantRequest r;
      absl::Status st = ParseBody(req.body, &r);
      call("CreateTenant", r.id_tag(), [&]() -> absl::StatusOr<std::string> {
        if (!st.ok()) return st;
        return ToJson(admin_.DoCreateTenant(r));
      });
      ok_status = 201;
    } else if (m == "POST" && (is({"tenants", "*", "suspend"}) || is({"tenants", "*", "resume"}))) {
      cloudillo::v1::SetTenantStatusRequest r;
      r.set_id_tag(seg[1]);
      r.set_status(seg[2] == "suspend" ? "suspended" : "active");
      call("SetTenantStatus", r.id_tag() + " " + r.status(),
           [&] { return ToJson(admin_.DoSetTenantStatus(r)); });
    } else if (m == "DELETE" && is({"tenants", "*"})) {
      if (QueryValue(q, "graceDays").empty()) {
        cloudillo::v1::TenantByIdTag r;
        r.set_id_tag(seg[1]);
        call("DeleteTenant", r.id_tag(), [&] { return ToJson(admin_.DoDeleteTenant(r)); });
      } else {
        cloudillo::v1::ScheduleDeletionRequest r;
        r.set_id_tag(seg[1]);
        auto days = QueryInt(q, "graceDays");
        r.set_grace_days(days.ok() ? *days : -1);
        call("ScheduleTenantDeletion", r.id_tag() + " " + QueryValue(q, "graceDays") + "d",
             [&] { return ToJson(admin_.DoScheduleTenantDeletion(r)); });
      }
    } else if (m == "PUT" && is({"tenants", "*", "plan"})) {
      cloudillo::v1::AssignPlanRequest r;
      absl::Status st = ParseBody(req.body, &r);
      r.set_id_tag(seg[1]);
      call("AssignPlan", r.id_tag() + " " + r.plan(), [&]() -> absl::StatusOr<std::string> {
        if (!st.ok()) return st;
        return ToJson(admin_.DoAssignPlan(r));
      });
    } else if (m == "POST" && is({"tenants", "*", "rotate-key"})) {
      cloudillo::v1::RotateKeyRequest r;
      absl::Status st = ParseBody(req.body, &r);
      r.set_id_tag(seg[1]);
      call("RotateSigningKey", r.id_tag(), [&]() -> absl::StatusOr<std::string> {
        if (!st.ok()) return st;
        return ToJson(admin_.DoRotateSigningKey(r));
      });
    } else if (m == "POST" && is({"tenants", "*", "rotate-token-secret"})) {
      cloudillo::v1::TenantByIdTag r;
      r.set_id_tag(seg[1]);
      call("RotateTokenSecret", r.id_tag(), [&] { return ToJson(admin_.DoRotateTokenSecret(r)); });
    } else if (m == "GET" && is({"tenants", "*", "usage"})) {
      cloudillo::v1::UsageRequest r;
      r.set_id_tag(seg[1]);
      call("GetTenantUsage", r.id_tag(), [&]() -> absl::StatusOr<std::string> {
        auto days = QueryInt(q, "days");
        if (!days.ok()) return days.status();
        r.set_days(*days);
        return ToJson(admin_.DoGetTenantUsage(r));
      });
    } else if (m == "GET" && is({"usage"})) {
      call("ListUsage", QueryValue(q, "after"), [&]() -> absl::StatusOr<std::string> {
        cloudillo::v1::ListUsageRequest r;
        auto days = QueryInt(q, "days");
        auto limit = QueryInt(q, "limit");
        if (!days.ok()) return days.status();
        if (!limit.ok()) return limit.status();
        r.set_days(*days);
        r.set_limit(*limit);
        r.set_after_id_tag(QueryValue(q, "after"));
        return ToJson(admin_.DoListUsage(r));
      });
    } else if (m == "GET" && is({"plans"})) {
      call("ListPlans", "", [&] { return ToJson(admin_.DoListPlans(cloudillo::v1::Empty())); });
    } else if (m == "PUT" && is({"plans", "*"})) {
      cloudillo::v1::Plan r;
      absl::Status st = ParseBody(req.body, &r);
      r.set_name(seg[1]);
      r.clear_tenants();
      call("UpsertPlan", r.name(), [&]() -> absl::StatusOr<std::string> {
        if (!st.ok()) return st;
        return ToJson(admin_.DoUpsertPlan(r));
      });
    } else if (m == "DELETE" && is({"plans", "*"})) {
      cloudillo::v1::PlanByName r;
      r.set_name(seg[1]);
      call("DeletePlan", r.name(), [&] { return ToJson(admin_.DoDeletePlan(r)); });
    } else if (m == "POST" && is({"purge"})) {
      call("PurgeTenants", "", [&] { return ToJson(admin_.DoPurgeTenants(cloudillo::v1::Empty())); });
    }
    finish(data, ok_status);
  });
  if (!queued) ex->Respond(AdminErrorResponse(absl::UnavailableError("busy; retry")));
}

}  // namespace cloudillo::identity
