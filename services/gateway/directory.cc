#include "directory.h"

#include <mutex>

#include "absl/strings/numbers.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::gateway {
namespace {
constexpr absl::Duration kTenantTtl = absl::Seconds(60);
constexpr absl::Duration kUnknownTenantTtl = absl::Seconds(5);
constexpr absl::Duration kSecretsTtl = absl::Seconds(300);
constexpr absl::Duration kApiKeyTtl = absl::Seconds(60);
constexpr size_t kMaxEntries = 200000;  // bounds memory against hostile Host or key floods
}  // namespace

absl::StatusOr<std::optional<TenantInfo>> Directory::Tenant(const std::string& id_tag) {
  absl::Time now = clock_.Now();
  {
    std::shared_lock lock(mu_);
    auto it = tenants_.find(id_tag);
    if (it != tenants_.end() && it->second.expires > now) return it->second.value;
  }
  cloudillo::v1::ResolveTenantRequest req;
  req.set_id_tag(id_tag);
  cloudillo::v1::Tenant t;
  auto ctx = rpc::ContextWithDeadline(rpc_timeout_);
  grpc::Status st = backends_.identity->ResolveTenant(ctx.get(), req, &t);
  std::optional<TenantInfo> value;
  if (st.ok()) {
    value = TenantInfo{t.tn_id(), t.id_tag(), t.status() == "active"};
  } else if (st.error_code() != grpc::StatusCode::NOT_FOUND) {
    return absl::UnavailableError("identity: " + st.error_message());
  }
  std::unique_lock lock(mu_);
  if (tenants_.size() >= kMaxEntries) tenants_.clear();
  tenants_[id_tag] = {value, now + (value ? kTenantTtl : kUnknownTenantTtl)};
  return value;
}

absl::StatusOr<std::vector<SecretInfo>> Directory::Secrets(int64_t tn_id) {
  absl::Time now = clock_.Now();
  {
    std::shared_lock lock(mu_);
    auto it = secrets_.find(tn_id);
    if (it != secrets_.end() && it->second.expires > now) return it->second.value;
  }
  cloudillo::v1::TenantRef ref;
  ref.set_tn_id(tn_id);
  cloudillo::v1::TokenSecrets out;
  auto ctx = rpc::ContextWithDeadline(rpc_timeout_);
  grpc::Status st = backends_.access->GetTokenSecrets(ctx.get(), ref, &out);
  if (!st.ok()) return absl::UnavailableError("access: " + st.error_message());
  std::vector<SecretInfo> value;
  absl::Time expires = now + kSecretsTtl;
  for (const auto& s : out.secrets()) {
    value.push_back({s.kid(), s.secret()});
    // A rotated secret must vanish from the cache when it stops being valid.
    if (s.expires_at() != 0) expires = std::min(expires, absl::FromUnixSeconds(s.expires_at()));
  }
  std::unique_lock lock(mu_);
  if (secrets_.size() >= kMaxEntries) secrets_.clear();
  secrets_[tn_id] = {value, expires};
  return value;
}

absl::StatusOr<std::optional<ApiKeyInfo>> Directory::ApiKey(int64_t tn_id, const std::string& key) {
  absl::Time now = clock_.Now();
  std::string id = std::to_string(tn_id) + ":" + crypto::Sha256(key);
  {
    std::shared_lock lock(mu_);
    auto it = api_keys_.find(id);
    if (it != api_keys_.end() && it->second.expires > now) return it->second.value;
  }
  cloudillo::v1::ResolveApiKeyRequest req;
  req.set_tn_id(tn_id);
  req.set_key(key);
  cloudillo::v1::ApiKeyIdentity out;
  auto ctx = rpc::ContextWithDeadline(rpc_timeout_);
  grpc::Status st = backends_.access->ResolveApiKey(ctx.get(), req, &out);
  std::optional<ApiKeyInfo> value;
  if (st.ok()) {
    value = ApiKeyInfo{out.tn_id(), out.subject(), out.roles(), out.scope(), out.expires_at()};
  } else if (st.error_code() != grpc::StatusCode::PERMISSION_DENIED &&
             st.error_code() != grpc::StatusCode::NOT_FOUND) {
    return absl::UnavailableError("access: " + st.error_message());
  }
  absl::Time expires = now + kApiKeyTtl;
  if (value && value->expires_at != 0) expires = std::min(expires, absl::FromUnixSeconds(value->expires_at));
  std::unique_lock lock(mu_);
  if (api_keys_.size() >= kMaxEntries) api_keys_.clear();
  api_keys_[id] = {value, expires};
  return value;
}

void Directory::Invalidate(const std::string& message) {
  size_t colon = message.find(':');
  if (colon == std::string::npos) return;
  std::string kind = message.substr(0, colon), key = message.substr(colon + 1);
  std::unique_lock lock(mu_);
  if (kind == "tenant") {
    tenants_.erase(key);
    return;
  }
  int64_t tn_id = 0;
  if (!absl::SimpleAtoi(AV(key), &tn_id)) return;
  if (kind == "secrets") {
    secrets_.erase(tn_id);
  } else if (kind == "apikeys") {
    std::string prefix = key + ":";
    for (auto it = api_keys_.begin(); it != api_keys_.end();) {
      if (it->first.compare(0, prefix.size(), prefix) == 0)
        it = api_keys_.erase(it);
      else
        ++it;
    }
  }
}

void Directory::Clear() {
  std::unique_lock lock(mu_);
  tenants_.clear();
  secrets_.clear();
  api_keys_.clear();
}

}  // namespace cloudillo::gateway
