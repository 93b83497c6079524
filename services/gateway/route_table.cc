#include "route_table.h"

#include "absl/strings/str_split.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::gateway {
namespace {

constexpr auto kIgnore = AuthMode::kIgnore;
constexpr auto kOptional = AuthMode::kOptional;
constexpr auto kRequired = AuthMode::kRequired;

#define IDENTITY(M) "identity", "/cloudillo.v1.IdentityEdge/" #M
#define ACCESS(M) "access", "/cloudillo.v1.AccessEdge/" #M
#define ACTION(M) "action", "/cloudillo.v1.ActionEdge/" #M
#define BLOB(M) "blob", "/cloudillo.v1.BlobEdge/" #M
#define COLLAB(M) "collab", "/cloudillo.v1.CollabEdge/" #M

// Uploads stream through (never buffered); the blob service enforces its own,
// configurable upload limit, so the gateway only bounds them at 4 GiB.
constexpr size_t kUploadLimit = size_t(4) << 30;

std::vector<Route> Build() {
  return {
      // Auth (PROTOCOL §3.7, Appendix C.2-C.6)
      {"POST", "/api/auth/login-init", kOptional, "auth", false, ACCESS(LoginInit)},
      {"POST", "/api/auth/login", kIgnore, "auth", true, ACCESS(Login)},
      {"GET", "/api/auth/login-token", kOptional, "auth", true, ACCESS(LoginToken)},
      {"POST", "/api/auth/logout", kRequired, nullptr, false, ACCESS(Logout)},
      {"POST", "/api/auth/password", kRequired, nullptr, false, ACCESS(ChangePassword)},
      {"GET", "/api/auth/access-token", kOptional, "federation", true, ACCESS(AccessToken)},
      {"GET", "/api/auth/proxy-token", kRequired, nullptr, false, ACCESS(ProxyToken)},
      {"GET", "/api/auth/api-keys", kRequired, nullptr, false, ACCESS(ListApiKeys)},
      {"POST", "/api/auth/api-keys", kRequired, nullptr, false, ACCESS(CreateApiKey)},
      {"GET", "/api/auth/api-keys/{keyId}", kRequired, nullptr, false, ACCESS(GetApiKey)},
      {"PATCH", "/api/auth/api-keys/{keyId}", kRequired, nullptr, false, ACCESS(PatchApiKey)},
      {"DELETE", "/api/auth/api-keys/{keyId}", kRequired, nullptr, false, ACCESS(DeleteApiKey)},
      {"POST", "/api/auth/qr-login/init", kIgnore, "auth", true, ACCESS(QrLoginInit)},
      {"GET", "/api/auth/qr-login/{id}/status", kIgnore, "auth", true, ACCESS(QrLoginStatus)},
      {"GET", "/api/auth/qr-login/{id}/details", kRequired, nullptr, false, ACCESS(QrLoginDetails)},
      {"POST", "/api/auth/qr-login/{id}/respond", kRequired, nullptr, false, ACCESS(QrLoginRespond)},
      // Passkeys (PROTOCOL §3.7): enrolment is the owner's, login is public on the auth bucket.
      {"GET", "/api/auth/wa/reg", kRequired, nullptr, false, ACCESS(ListPasskeys)},
      {"POST", "/api/auth/wa/reg", kRequired, nullptr, false, ACCESS(RegisterPasskey)},
      {"GET", "/api/auth/wa/reg/challenge", kRequired, nullptr, false, ACCESS(PasskeyRegChallenge)},
      {"DELETE", "/api/auth/wa/reg/{keyId}", kRequired, nullptr, false, ACCESS(DeletePasskey)},
      {"GET", "/api/auth/wa/login/challenge", kIgnore, "auth", true, ACCESS(PasskeyLoginChallenge)},
      {"POST", "/api/auth/wa/login", kIgnore, "auth", true, ACCESS(PasskeyLogin)},
      // Refs (PROTOCOL §8 "Refs"): the lookup is public and skips the ban (Appendix D 30).
      {"GET", "/api/refs", kRequired, nullptr, false, ACCESS(ListRefs)},
      {"POST", "/api/refs", kRequired, nullptr, false, ACCESS(CreateRef)},
      {"GET", "/api/refs/{refId}", kOptional, "general", false, ACCESS(GetRef)},
      {"PATCH", "/api/refs/{refId}", kRequired, nullptr, false, ACCESS(PatchRef)},
      {"DELETE", "/api/refs/{refId}", kRequired, nullptr, false, ACCESS(DeleteRef)},
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
      // Actions (PROTOCOL §8 Actions, Appendix C.11): listing is public, visibility-filtered.
      {"GET", "/api/actions", kOptional, "general", false, ACTION(ListActions)},
      {"POST", "/api/actions", kRequired, nullptr, false, ACTION(CreateAction)},
      {"GET", "/api/actions/{id}", kOptional, "general", false, ACTION(GetAction)},
      {"DELETE", "/api/actions/{id}", kRequired, nullptr, false, ACTION(DeleteAction)},
      {"POST", "/api/actions/{id}/accept", kRequired, nullptr, false, ACTION(AcceptAction)},
      {"POST", "/api/actions/{id}/reject", kRequired, nullptr, false, ACTION(RejectAction)},
      {"POST", "/api/actions/{id}/dismiss", kRequired, nullptr, false, ACTION(DismissAction)},
      // Federation (PROTOCOL §2.8, §2.10): no auth header; 16 MiB bodies (§2.8).
      {"POST", "/api/inbox", kIgnore, "federation", true, ACTION(Inbox), RouteKind::kUnary, 16 << 20},
      {"POST", "/api/inbox/sync", kIgnore, "federation", true, ACTION(InboxSync), RouteKind::kUnary,
       16 << 20},
      {"GET", "/api/outbox", kOptional, "federation", true, ACTION(Outbox)},
      // Files (PROTOCOL §4, §8 "Files", Appendix C.10, C.11): the blob service.
      {"GET", "/api/files", kOptional, "general", true, BLOB(ListFiles)},
      {"POST", "/api/files", kRequired, nullptr, false, BLOB(CreateFile)},
      {"POST", "/api/files/{preset}/{fileName}", kRequired, nullptr, false, BLOB(Upload), RouteKind::kUpload,
       kUploadLimit},
      {"GET", "/api/files/{fileId}", kOptional, "general", true, BLOB(GetFile), RouteKind::kDownload},
      {"HEAD", "/api/files/{fileId}", kOptional, "general", true, BLOB(HeadFile)},
      {"GET", "/api/files/variant/{variantId}", kOptional, "general", true, BLOB(GetVariant),
       RouteKind::kDownload},
      {"HEAD", "/api/files/variant/{variantId}", kOptional, "general", true, BLOB(HeadVariant)},
      {"GET", "/api/files/{fileId}/descriptor", kOptional, "general", true, BLOB(GetDescriptor)},
      {"GET", "/api/files/{fileId}/metadata", kOptional, "general", true, BLOB(GetMetadata)},
      {"PATCH", "/api/files/{fileId}", kRequired, nullptr, false, BLOB(PatchFile)},
      {"DELETE", "/api/files/{fileId}", kRequired, nullptr, false, BLOB(DeleteFile)},
      {"POST", "/api/files/{fileId}/restore", kRequired, nullptr, false, BLOB(RestoreFile)},
      {"POST", "/api/files/{fileId}/duplicate", kRequired, nullptr, false, BLOB(DuplicateFile)},
      {"PATCH", "/api/files/{fileId}/user", kRequired, nullptr, false, BLOB(PatchFileUser)},
      {"PUT", "/api/files/{fileId}/tag/{tag}", kRequired, nullptr, false, BLOB(PutTag)},
      {"DELETE", "/api/files/{fileId}/tag/{tag}", kRequired, nullptr, false, BLOB(DeleteTag)},
      {"GET", "/api/tags", kRequired, nullptr, false, BLOB(ListTags)},
      {"PUT", "/api/me/image", kRequired, nullptr, false, BLOB(PutProfileImage), RouteKind::kUpload,
       kUploadLimit},
      {"PUT", "/api/me/cover", kRequired, nullptr, false, BLOB(PutCoverImage), RouteKind::kUpload,
       kUploadLimit},
      {"DELETE", "/api/trash", kRequired, nullptr, false, BLOB(EmptyTrash)},
      {"GET", "/api/files/{fileId}/shares", kRequired, nullptr, false, BLOB(ListShares)},
      {"POST", "/api/files/{fileId}/shares", kRequired, nullptr, false, BLOB(CreateShare)},
      {"PATCH", "/api/files/{fileId}/shares/{shareId}", kRequired, nullptr, false, BLOB(PatchShare)},
      {"DELETE", "/api/files/{fileId}/shares/{shareId}", kRequired, nullptr, false, BLOB(DeleteShare)},
      {"GET", "/api/shares", kRequired, nullptr, false, BLOB(ListAllShares)},
      // Notification bus (PROTOCOL §7). Optional here on purpose: the reference upgrades
      // every request and closes an unauthenticated socket with 4401, which makes the
      // client wait for a fresh token; a refusal before the upgrade would look like a
      // network failure and be retried with the same token. The service decides.
      {"GET", "/ws/bus", kOptional, "websocket", true, ACTION(Bus), RouteKind::kWebSocket, 64 << 10},
      // Live documents (PROTOCOL §5): a bad or absent token is a guest, whom the service
      // upgrades and then closes with its code (4403, 4404, ...). Messages up to 16 MiB,
      // a ping every 15 s (§5.2).
      {"GET", "/ws/crdt/{docId}", kOptional, "websocket", true, COLLAB(CrdtSockets), RouteKind::kMuxedSocket,
       16 << 20, 15},
      // The real-time database (PROTOCOL §6): the same guest rule, JSON text messages up
      // to 1 MiB.
      {"GET", "/ws/rtdb/{fileId}", kOptional, "websocket", true, COLLAB(RtdbSockets), RouteKind::kMuxedSocket,
       1 << 20},
  };
}

#undef IDENTITY
#undef ACCESS
#undef ACTION
#undef BLOB
#undef COLLAB

}  // namespace

RouteTable::RouteTable(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (const Route& r : routes_) {
    Compiled c;
    for (absl::string_view s : absl::StrSplit(r.pattern, '/')) {
      bool param = s.size() > 2 && s.front() == '{' && s.back() == '}';
      c.segments.emplace_back(param ? s.substr(1, s.size() - 2) : s);
      c.is_param.push_back(param);
      if (param) {
        c.param_names.emplace_back(s.substr(1, s.size() - 2));
      } else {
        ++c.literals;
      }
    }
    compiled_.push_back(std::move(c));
  }
}

const RouteTable& RouteTable::Default() {
  static const auto* table = new RouteTable(Build());
  return *table;
}

size_t RouteTable::MaxBodyLimit(size_t default_limit) const {
  size_t max = default_limit;
  for (const Route& r : routes_) max = std::max(max, r.body_limit);
  return max;
}

RouteMatch RouteTable::Match(std::string_view method, std::string_view path) const {
  RouteMatch best;
  int best_literals = -1;
  // Split once; paths longer than any pattern match nothing.
  std::vector<std::string_view> segs;
  for (absl::string_view s : absl::StrSplit(AV(path), '/')) {
    segs.push_back(SV(s));
    if (segs.size() > 16) return best;
  }
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Compiled& c = compiled_[i];
    if (c.segments.size() != segs.size()) continue;
    bool ok = true;
    for (size_t k = 0; k < segs.size() && ok; ++k) {
      ok = c.is_param[k] ? !segs[k].empty() : c.segments[k] == segs[k];
    }
    if (!ok) continue;
    best.path_known = true;
    if (method != routes_[i].method || c.literals <= best_literals) continue;
    // Decode parameters only for the route that wins so far.
    std::map<std::string, std::string> params;
    size_t p = 0;
    for (size_t k = 0; k < segs.size() && ok; ++k) {
      if (!c.is_param[k]) continue;
      auto decoded = PercentDecode(segs[k], false);
      if (!decoded) {
        ok = false;
        best.bad_param = true;
        break;
      }
      params[c.param_names[p++]] = std::move(*decoded);
    }
    if (!ok) continue;
    best.route = &routes_[i];
    best.index = int(i);
    best.params = std::move(params);
    best_literals = c.literals;
  }
  return best;
}

}  // namespace cloudillo::gateway
