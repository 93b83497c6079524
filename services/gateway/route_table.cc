#include "route_table.h"

#include "absl/strings/str_split.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::gateway {
namespace {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

#define IDENTITY(M)                                                                                        \
  "cloudillo.v1.Identity." #M, [](Backends& b, grpc::ClientContext* c, const ApiRequest& r, ApiReply* o) { \
    return b.identity->M(c, r, o);                                                                         \
  }
#define ACCESS(M)                                                                                        \
  "cloudillo.v1.Access." #M, [](Backends& b, grpc::ClientContext* c, const ApiRequest& r, ApiReply* o) { \
    return b.access->M(c, r, o);                                                                         \
  }

constexpr auto kIgnore = AuthMode::kIgnore;
constexpr auto kOptional = AuthMode::kOptional;
constexpr auto kRequired = AuthMode::kRequired;

std::vector<Route> Build() {
  return {
      // Auth (PROTOCOL §3.7, Appendix C.2-C.6)
      {"POST", "/api/auth/login-init", kOptional, "auth", false, ACCESS(LoginInit)},
      {"POST", "/api/auth/login", kIgnore, "auth", true, ACCESS(Login)},
      {"GET", "/api/auth/login-token", kOptional, "auth", true, ACCESS(LoginToken)},
      {"POST", "/api/auth/logout", kRequired, nullptr, false, ACCESS(Logout)},
      {"POST", "/api/auth/password", kRequired, nullptr, false, ACCESS(ChangePassword)},
      {"GET", "/api/auth/access-token", kOptional, "federation", true, ACCESS(AccessToken)},
      {"GET", "/api/auth/api-keys", kRequired, nullptr, false, ACCESS(ListApiKeys)},
      {"POST", "/api/auth/api-keys", kRequired, nullptr, false, ACCESS(CreateApiKey)},
      {"GET", "/api/auth/api-keys/{keyId}", kRequired, nullptr, false, ACCESS(GetApiKey)},
      {"PATCH", "/api/auth/api-keys/{keyId}", kRequired, nullptr, false, ACCESS(PatchApiKey)},
      {"DELETE", "/api/auth/api-keys/{keyId}", kRequired, nullptr, false, ACCESS(DeleteApiKey)},
      // Own profile (PROTOCOL §1.4, Appendix C.7)
      {"GET", "/api/me", kIgnore, "general", true, IDENTITY(GetMe)},
      {"GET", "/api/me/full", kOptional, "general", false, IDENTITY(GetMeFull)},
      {"GET", "/api/me/app-domain", kIgnore, "general", true, IDENTITY(GetAppDomain)},
      {"PATCH", "/api/me", kRequired, nullptr, false, IDENTITY(PatchMe)},
      // Profiles (Appendix C.8, C.9)
      {"GET", "/api/profiles", kRequired, nullptr, false, IDENTITY(ListProfiles)},
      {"GET", "/api/profiles/{idTag}", kRequired, nullptr, false, IDENTITY(GetProfile)},
      // Settings (Appendix B.3)
      {"GET", "/api/settings", kRequired, nullptr, false, IDENTITY(ListSettings)},
      {"GET", "/api/settings/{name}", kRequired, nullptr, false, IDENTITY(GetSetting)},
      {"PUT", "/api/settings/{name}", kRequired, nullptr, false, IDENTITY(PutSetting)},
      {"DELETE", "/api/settings/{name}", kRequired, nullptr, false, IDENTITY(DeleteSetting)},
  };
}

#undef IDENTITY
#undef ACCESS

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  for (absl::string_view s : absl::StrSplit(AV(path), '/')) out.push_back(SV(s));
  return out;
}

}  // namespace

const std::vector<Route>& Routes() {
  static const auto* routes = new std::vector<Route>(Build());
  return *routes;
}

RouteMatch MatchRoute(std::string_view method, std::string_view path) {
  RouteMatch best;
  int best_literals = -1;
  std::vector<std::string_view> segs = Segments(path);
  for (const Route& r : Routes()) {
    std::vector<std::string_view> pat = Segments(r.pattern);
    if (pat.size() != segs.size()) continue;
    int literals = 0;
    bool ok = true;
    std::map<std::string, std::string> params;
    for (size_t i = 0; i < pat.size() && ok; ++i) {
      if (pat[i].size() > 2 && pat[i].front() == '{' && pat[i].back() == '}') {
        auto decoded = PercentDecode(segs[i], false);
        if (segs[i].empty() || !decoded)
          ok = false;
        else
          params[std::string(pat[i].substr(1, pat[i].size() - 2))] = *decoded;
      } else if (pat[i] == segs[i]) {
        ++literals;
      } else {
        ok = false;
      }
    }
    if (!ok) continue;
    best.path_known = true;
    if (method == r.method && literals > best_literals) {
      best.route = &r;
      best.params = std::move(params);
      best_literals = literals;
    }
  }
  return best;
}

}  // namespace cloudillo::gateway
