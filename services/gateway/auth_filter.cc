#include "auth_filter.h"

#include "absl/strings/match.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/crypto/access_token.h"
#include "verified_tokens.h"

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

Bearer ExtractBearer(const http::Request& req) {
  const std::string& header = req.Header("authorization");
  Bearer b;
  if (StartsWith(header, "Bearer ")) b.value = header.substr(7);
  if (b.value.empty() && TokenInQueryAllowed(req.path)) b.value = QueryToken(req.query);
  if (b.value.empty()) return b;
  b.kind = StartsWith(b.value, "cl_") ? Bearer::kApiKey : Bearer::kJwt;
  return b;
}

namespace {
AuthResult Finish(Caller c, const http::Request& req) {
  if (!ScopePermits(c.scope, req.path, req.method)) {
    return {{}, AuthProblem::kOutOfScope, "token scope does not cover this path"};
  }
  c.authenticated = true;
  return {std::move(c), AuthProblem::kNone, ""};
}
}  // namespace

AuthResult AuthenticateJwt(const Secrets& secrets, const TenantInfo& tenant, const Bearer& bearer,
                           const http::Request& req, absl::Time now, bool* unknown_kid,
                           VerifiedTokens* verified) {
  *unknown_kid = false;
  std::string key;
  if (verified) {
    key = VerifiedTokens::KeyOf(tenant.tn_id, bearer.value);
    if (auto c = verified->Find(key, secrets, now)) return Finish(std::move(*c), req);
  }
  auto claims = crypto::VerifyAccessToken(bearer.value, tenant.id_tag, now,
                                          [&](std::string_view kid) -> std::optional<std::string> {
                                            for (const auto& s : *secrets) {
                                              if (s.kid == kid) return s.secret;
                                            }
                                            *unknown_kid = true;
                                            return std::nullopt;
                                          });
  if (!claims.ok()) return {{}, AuthProblem::kBadToken, std::string(claims.status().message())};
  Caller c;
  c.subject = claims->Subject();
  c.has_sub = claims->sub.has_value();
  c.roles = claims->roles.value_or("");
  c.scope = claims->scope.value_or("");
  c.kind = claims->api_key_id ? "api_key" : "token";
  c.api_key_id = claims->api_key_id.value_or(0);
  if (verified) verified->Store(key, secrets, c, claims->exp);
  return Finish(std::move(c), req);
}

AuthResult AuthenticateApiKey(const std::optional<ApiKeyInfo>& key, const TenantInfo& tenant,
                              const http::Request& req, absl::Time now) {
  if (!key || key->tn_id != tenant.tn_id ||
      (key->expires_at != 0 && key->expires_at <= absl::ToUnixSeconds(now))) {
    return {{}, AuthProblem::kBadKey, "invalid API key"};
  }
  Caller c;
  c.subject = key->subject;
  c.roles = key->roles;
  c.scope = key->scope;
  c.has_sub = true;
  c.kind = "api_key";
  c.api_key_id = key->key_id;
  return Finish(std::move(c), req);
}

}  // namespace cloudillo::gateway
