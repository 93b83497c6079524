// Who is calling (PROTOCOL §3.1, §3.2, Appendix D items 4, 20-22, E18, §13.18).
//
// The bearer comes from `Authorization: Bearer <x>` (case-sensitive prefix) or, on
// /ws/* and /api/files/* only, from `?token=` (not URL-decoded). `cl_…` values are
// API keys; anything else must be an HS256 JWT issued by the Host tenant. Scoped
// tokens reach only the paths of their scope (ScopePermits).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "cloudillo/http/server.h"
#include "directory.h"

namespace cloudillo::gateway {

struct Caller {
  bool authenticated = false;
  std::string subject, roles, scope, kind;  // kind: "token" | "api_key" (directly or via a key's token)
  bool has_sub = false;
  int64_t api_key_id = 0;
};

enum class AuthProblem {
  kNone,
  kMissing,      // no usable bearer: 403 on required routes
  kBadToken,     // invalid, expired or foreign JWT: 401
  kBadKey,       // unknown or expired API key: 403
  kOutOfScope,   // scoped token on a path its scope does not cover: 403
  kUnavailable,  // a backend could not answer: 503
};

struct AuthResult {
  Caller caller;
  AuthProblem problem = AuthProblem::kNone;
  std::string message;
};

// The bearer of a request: `Authorization: Bearer …`, else `?token=` where allowed.
struct Bearer {
  enum Kind { kNone, kJwt, kApiKey } kind = kNone;
  std::string value;
};
Bearer ExtractBearer(const http::Request& req);

class VerifiedTokens;

// The checks once the tenant's secrets are known. `unknown_kid` is set when the token
// names a secret the given set lacks (the caller may refresh the secrets once).
// `verified` (optional): tokens verified against this same set are taken from it,
// and a token that verifies is added.
AuthResult AuthenticateJwt(const Secrets& secrets, const TenantInfo& tenant, const Bearer& bearer,
                           const http::Request& req, absl::Time now, bool* unknown_kid,
                           VerifiedTokens* verified = nullptr);
// The checks once the key is resolved (nullopt: no such key).
AuthResult AuthenticateApiKey(const std::optional<ApiKeyInfo>& key, const TenantInfo& tenant,
                              const http::Request& req, absl::Time now);

// Whether a token with `scope` may reach `path` (PROTOCOL §3.2, Appendix D 22).
bool ScopePermits(const std::string& scope, const std::string& path, const std::string& method);

// The `token` query parameter as sent (not decoded), or "".
std::string QueryToken(const std::string& query);

}  // namespace cloudillo::gateway
