#include "auth_filter.h"

#include "absl/strings/match.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/crypto/access_token.h"

namespace cloudillo::gateway {
namespace {

bool StartsWith(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

bool TokenInQueryAllowed(const std::string& path) {
  return StartsWith(path, "/ws/") || StartsWith(path, "/api/files/") || path == "/api/files";
}

}  // namespace

std::string QueryToken(const std::string& query) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string_view part(query.data() + pos, amp - pos);
    if (part.substr(0, 6) == "token=") return std::string(part.substr(6));
    pos = amp + 1;
  }
  return "";
}

bool ScopePermits(const std::string& scope, const std::string& path, const std::string& method) {
  if (scope.empty()) return true;
  bool any = false;
  size_t start = 0;
  while (start <= scope.size()) {
    size_t comma = scope.find(',', start);
    if (comma == std::string::npos) comma = scope.size();
    std::string s = scope.substr(start, comma - start);
    start = comma + 1;
    if (StartsWith(s, "file:")) {
      any = any || StartsWith(path, "/api/files") || path == "/api/search" || StartsWith(path, "/ws/rtdb/") ||
            StartsWith(path, "/ws/crdt/") || path == "/api/auth/access-token";
    } else if (s == "carddav:read" || s == "carddav:write") {
      any = any || StartsWith(path, "/api/address-books") || StartsWith(path, "/api/contacts") ||
            StartsWith(path, "/dav");
    } else if (s == "caldav:read" || s == "caldav:write") {
      any = any || StartsWith(path, "/api/calendars") || StartsWith(path, "/dav");
    } else if (s == "apkg:publish") {
      any = any || StartsWith(path, "/api/files/apkg/") || (path == "/api/actions" && method == "POST") ||
            StartsWith(path, "/api/apps");
    }
    // Unknown scope strings grant nothing.
  }
  return any;
}

AuthResult Authenticate(Directory& dir, const TenantInfo& tenant, const http::Request& req, absl::Time now) {
  AuthResult out;
  const std::string& header = req.Header("authorization");
  std::string bearer;
  if (StartsWith(header, "Bearer ")) bearer = header.substr(7);
  if (bearer.empty() && TokenInQueryAllowed(req.path)) bearer = QueryToken(req.query);
  if (bearer.empty()) {
    out.problem = AuthProblem::kMissing;
    out.message = "authentication required";
    return out;
  }
  Caller& c = out.caller;
  c.bearer = bearer;
  if (StartsWith(bearer, "cl_")) {
    auto key = dir.ApiKey(tenant.tn_id, bearer);
    if (!key.ok()) return {{}, AuthProblem::kUnavailable, std::string(key.status().message())};
    if (!key->has_value() || (**key).tn_id != tenant.tn_id ||
        ((**key).expires_at != 0 && (**key).expires_at <= absl::ToUnixSeconds(now))) {
      return {{}, AuthProblem::kBadKey, "invalid API key"};
    }
    c.subject = (**key).subject;
    c.roles = (**key).roles;
    c.scope = (**key).scope;
    c.has_sub = true;
    c.kind = "api_key";
  } else {
    auto secrets = dir.Secrets(tenant.tn_id);
    if (!secrets.ok()) return {{}, AuthProblem::kUnavailable, std::string(secrets.status().message())};
    auto claims = crypto::VerifyAccessToken(bearer, tenant.id_tag, now,
                                            [&](std::string_view kid) -> std::optional<std::string> {
                                              for (const auto& s : *secrets) {
                                                if (s.kid == kid) return s.secret;
                                              }
                                              return std::nullopt;
                                            });
    if (!claims.ok()) return {{}, AuthProblem::kBadToken, std::string(claims.status().message())};
    c.subject = claims->Subject();
    c.has_sub = claims->sub.has_value();
    c.roles = claims->roles.value_or("");
    c.scope = claims->scope.value_or("");
    c.kind = "token";
  }
  if (!ScopePermits(c.scope, req.path, req.method)) {
    return {{}, AuthProblem::kOutOfScope, "token scope does not cover this path"};
  }
  c.authenticated = true;
  return out;
}

}  // namespace cloudillo::gateway
