// The settings routes (PROTOCOL Appendix B.3, with §13.14: reads need a role beyond
// `public`, and secrets always read as null).
//
// Provider-wide settings (scope Global or System: SMTP credentials and every other
// `email.*` key, registration, storage and maintenance knobs) belong to the hosting
// provider, not to any tenant: on this REST surface they do not exist for anyone
// (single reads 404, lists omit them, writes 403, `level=global` 403). The reference
// lets its one site admin manage them here; our operators configure them outside the
// tenants' API.
#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/db/sql_text.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/status.h"
#include "identity_service.h"
#include "settings_registry.h"

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

bool IsSadm(const cloudillo::v1::RequestContext& ctx) {
  return ctx.authenticated() && rpc::HasRole(ctx.roles(), "SADM");
}

bool CanRead(const cloudillo::v1::RequestContext& ctx) {
  if (!ctx.authenticated()) return false;
  if (rpc::IsOwner(ctx) || IsSadm(ctx)) return true;
  for (absl::string_view r : absl::StrSplit(AV(ctx.roles()), ',', absl::SkipEmpty())) {
    if (r != "public") return true;
  }
  return false;
}

bool ProviderWide(const SettingDef& def) { return def.scope != SettingScope::kTenant; }

bool CanWrite(const SettingDef& def, const cloudillo::v1::RequestContext& ctx) {
  if (ProviderWide(def) || def.permission == SettingPermission::kSystem) return false;
  if (IsSadm(ctx)) return true;
  if (def.permission == SettingPermission::kAdmin) return false;
  return rpc::IsOwner(ctx) || (ctx.authenticated() && rpc::HasRole(ctx.roles(), "leader"));
}

const char* JsonTypeName(const json& v) {
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_string()) return "string";
  return "json";
}

absl::Status Validate(const std::string& key, const json& v) {
  auto range = [&](int64_t lo, int64_t hi) -> absl::Status {
    int64_t n = v.get<int64_t>();
    if (n < lo || n > hi) {
      return rpc::BadRequest("Invalid value for setting '" + key + "': must be between " +
                             std::to_string(lo) + " and " + std::to_string(hi));
    }
    return absl::OkStatus();
  };
  auto one_of = [&](std::initializer_list<const char*> allowed) -> absl::Status {
    for (const char* a : allowed) {
      if (v.get<std::string>() == a) return absl::OkStatus();
    }
    return rpc::BadRequest("Invalid value for setting '" + key + "'");
  };
  if (key == "email.smtp.port") return range(1, 65535);
  if (key == "core.vacuum_min_free_pct") return range(0, 100);
  if (key == "idp.renewal_interval") return range(1, 18250);
  if (key == "onboarding.welcome_email_delay") return range(0, 3600);
  if (key == "profile.default_visibility" || key == "profile.visibility_cap") return one_of({"P", "F", "C"});
  if (key == "profile.connection_mode") return one_of({"M", "A", "I"});
  if (key == "email.smtp.tls_mode") return one_of({"none", "starttls", "tls"});
  if (key == "email.from.address") {
    if (!v.is_string())
      return rpc::BadRequest("Invalid value for setting '" + key + "': not an email address");
    const std::string& s = v.get_ref<const std::string&>();
    if (s.find('@') == std::string::npos || s.find('.') == std::string::npos) {
      return rpc::BadRequest("Invalid value for setting '" + key + "': not an email address");
    }
  }
  return absl::OkStatus();
}

ojson Item(const SettingDef& def, const std::string& key, const json& value) {
  ojson o;
  o["key"] = key;
  o["value"] = IsSecretSetting(key) ? json(nullptr) : value;
  o["scope"] = ScopeName(def.scope);
  o["permission"] = PermissionName(def.permission);
  o["description"] = def.description;
  return o;
}

absl::StatusOr<std::optional<json>> ReadRow(db::Pool& pool, int64_t tn_id, const std::string& key) {
  CL_ASSIGN_OR_RETURN(db::Result r, pool.Query("SELECT value FROM settings WHERE tn_id = $1 AND key = $2",
                                               {db::P(tn_id), db::P(key)}));
  if (r.empty()) return std::optional<json>();
  return std::optional<json>(json::parse(r.rows[0].Str(0), nullptr, false));
}

// The tenant a request acts on: the Host tenant, or `tenant=` for a site admin.
absl::StatusOr<int64_t> TargetTenant(db::Pool& pool, const ApiRequest& req) {
  const std::string& other = rpc::QueryParam(req, "tenant");
  if (other.empty()) return req.ctx().tn_id();
  if (!IsSadm(req.ctx())) return rpc::Forbidden();
  if (rpc::QueryParam(req, "level") == "global")
    return rpc::BadRequest("tenant cannot be combined with level=global");
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool.Query("SELECT tn_id FROM tenants WHERE id_tag = $1", {db::P(other)}));
  if (r.empty()) return rpc::NotFoundError("tenant not found");
  return r.rows[0].Int(0);
}

// A setting name is at most 128 characters of [A-Za-z0-9._-]; anything else is no setting.
const std::string& NameParam(const ApiRequest& req) {
  static const std::string kEmpty;
  auto it = req.path().find("name");
  if (it == req.path().end() || it->second.size() > 128) return kEmpty;
  for (char c : it->second) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return kEmpty;
  }
  return it->second;
}

}  // namespace

grpc::ServerUnaryReactor* IdentityService::GetSetting(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                      ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoGetSetting(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoGetSetting(const ApiRequest& req) {
  if (!CanRead(req.ctx())) return rpc::Forbidden();
  const std::string& name = NameParam(req);
  const SettingDef* def = FindSetting(name);
  if (!def || ProviderWide(*def)) return rpc::NotFoundError("Setting not found");
  const std::string& level = rpc::QueryParam(req, "level");
  if (level == "global") return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t tn_id, TargetTenant(*pool_, req));
  std::optional<json> value;
  if (level == "tenant") {
    CL_ASSIGN_OR_RETURN(value, ReadRow(*pool_, tn_id, name));
    if (!value) return rpc::NotFoundError("Setting not found");
  } else if (!level.empty()) {
    return rpc::BadRequest("level must be tenant or global");
  } else {
    CL_ASSIGN_OR_RETURN(value, ReadRow(*pool_, tn_id, name));
    if (!value && def->default_json) value = json::parse(*def->default_json);
    if (!value) {
      if (def->wildcard()) return rpc::NotFoundError("Setting not found");
      return rpc::ApiError(
          absl::StatusCode::kNotFound, "E-SET-NOTFOUND",
          "Setting not configured: Setting '" + name + "' has no default and must be configured");
    }
  }
  // The reference answers a namespace match with the definition's key (`ui.*`).
  return rpc::Data(Item(*def, def->key, *value));
}

grpc::ServerUnaryReactor* IdentityService::ListSettings(grpc::CallbackServerContext* ctx,
                                                        const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoListSettings(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoListSettings(const ApiRequest& req) {
  if (!CanRead(req.ctx())) return rpc::Forbidden();
  const std::string& prefix_param = rpc::QueryParam(req, "prefix");
  const std::string& level = rpc::QueryParam(req, "level");
  if (!level.empty() && prefix_param.empty()) return rpc::BadRequest("level requires prefix");
  if (!level.empty() && level != "tenant" && level != "global")
    return rpc::BadRequest("level must be tenant or global");
  if (level == "global") return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t tn_id, TargetTenant(*pool_, req));
  ojson items = ojson::array();
  if (prefix_param.empty()) {
    for (const auto& def : SettingDefinitions()) {
      if (def.wildcard() || ProviderWide(def)) continue;
      CL_ASSIGN_OR_RETURN(auto value, ReadRow(*pool_, tn_id, def.key));
      if (!value && def.default_json) value = json::parse(*def.default_json);
      if (!value || value->is_null()) continue;
      items.push_back(Item(def, def.key, *value));
    }
  } else {
    std::vector<std::string> likes;
    for (absl::string_view p : absl::StrSplit(AV(prefix_param), ',', absl::SkipWhitespace())) {
      if (likes.size() == 20) break;
      likes.push_back(db::EscapeLike(SV(absl::StripAsciiWhitespace(p))) + ".%");
    }
    std::string arr = db::TextArrayLiteral(likes);
    CL_ASSIGN_OR_RETURN(
        db::Result r,
        pool_->Query("SELECT key, value FROM settings WHERE tn_id = $1 AND key LIKE ANY($2::text[]) "
                     "ORDER BY key",
                     {db::P(tn_id), db::P(arr)}));
    for (const auto& row : r.rows) {
      const SettingDef* def = FindSetting(row.Str(0));
      if (!def || ProviderWide(*def)) continue;
      json value = json::parse(row.Str(1), nullptr, false);
      if (value.is_null() || value.is_discarded()) continue;
      items.push_back(Item(*def, row.Str(0), value));
    }
  }
  ApiReply reply;
  reply.set_data_json(items.dump());
  reply.set_extra_json(
      json({{"pagination", {{"offset", 0}, {"limit", 100}, {"total", items.size()}}}}).dump());
  return reply;
}

grpc::ServerUnaryReactor* IdentityService::PutSetting(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                      ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoPutSetting(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoPutSetting(const ApiRequest& req) {
  const std::string& name = NameParam(req);
  const SettingDef* def = FindSetting(name);
  if (!def) return rpc::NotFoundError("Setting not found");
  if (!CanWrite(*def, req.ctx())) return rpc::Forbidden();
  if (rpc::QueryParam(req, "level") == "global") return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  auto v = body.find("value");
  if (v == body.end()) return rpc::BadRequest("body must be {\"value\": …}");
  if (def->default_json) {
    json d = json::parse(*def->default_json);
    if (std::string(JsonTypeName(d)) != JsonTypeName(*v)) {
      return rpc::BadRequest("Type mismatch for setting '" + name + "': expected " + JsonTypeName(d) +
                             ", got " + JsonTypeName(*v));
    }
  }
  CL_RETURN_IF_ERROR(Validate(name, *v));
  const std::string& level = rpc::QueryParam(req, "level");
  if (!level.empty() && level != "tenant" && level != "global")
    return rpc::BadRequest("level must be tenant or global");
  CL_ASSIGN_OR_RETURN(int64_t tn_id, TargetTenant(*pool_, req));
  CL_RETURN_IF_ERROR(pool_
                         ->Query("INSERT INTO settings (tn_id, key, value) VALUES ($1, $2, $3) "
                                 "ON CONFLICT (tn_id, key) DO UPDATE SET value = EXCLUDED.value",
                                 {db::P(tn_id), db::P(name), db::P(v->dump())})
                         .status());
  Announce(cache::SettingsInvalidation(tn_id));
  return rpc::Data(Item(*def, def->key, *v));
}

grpc::ServerUnaryReactor* IdentityService::DeleteSetting(grpc::CallbackServerContext* ctx,
                                                         const ApiRequest* req, ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [this, req] { return DoDeleteSetting(*req); });
}

absl::StatusOr<ApiReply> IdentityService::DoDeleteSetting(const ApiRequest& req) {
  const std::string& name = NameParam(req);
  const SettingDef* def = FindSetting(name);
  if (!def) return rpc::NotFoundError("Setting not found");
  const std::string& level = rpc::QueryParam(req, "level");
  if (level.empty()) return rpc::BadRequest("level query parameter is required");
  if (level != "tenant" && level != "global") return rpc::BadRequest("level must be tenant or global");
  if (level == "global" || !CanWrite(*def, req.ctx())) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(int64_t tn_id, TargetTenant(*pool_, req));
  CL_RETURN_IF_ERROR(
      pool_->Query("DELETE FROM settings WHERE tn_id = $1 AND key = $2", {db::P(tn_id), db::P(name)})
          .status());
  Announce(cache::SettingsInvalidation(tn_id));
  return rpc::NoContent();
}

}  // namespace cloudillo::identity
