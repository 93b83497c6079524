#include "directory.h"

#include <mutex>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "cloudillo/cache/lru_map.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/crypto/hash.h"

namespace cloudillo::gateway {
namespace {

constexpr absl::Duration kTenantTtl = absl::Minutes(5);
constexpr absl::Duration kUnknownTenantTtl = absl::Seconds(5);
constexpr absl::Duration kSecretsTtl = absl::Minutes(5);
constexpr absl::Duration kApiKeyTtl = absl::Seconds(60);

// One cache of the directory: two LRUs (found values and "does not exist"), and the
// fetches in flight with the requests waiting for each.
template <class K, class V>
class AsyncCache {
 public:
  using Done = std::function<void(absl::StatusOr<V>)>;
  using Complete = std::function<void(absl::StatusOr<V>, absl::Time expires)>;

  AsyncCache(size_t capacity, size_t negative_capacity, std::function<bool(const V&)> negative)
      : found_(capacity), missing_(negative_capacity), negative_(std::move(negative)) {}

  std::optional<V> Lookup(const K& k, absl::Time now) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto* lru : {&found_, &missing_}) {
      if (Entry* e = lru->Find(k)) {
        if (e->expires > now) return e->value;
        lru->Erase(k);
      }
    }
    return std::nullopt;
  }

  // Starts `fetch` unless a fetch of `k` is already running, in which case `done`
  // waits for that one. `done` runs on whichever thread completes the fetch.
  void Fetch(const K& k, Done done, const std::function<void(Complete)>& fetch) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(k);
      if (it != pending_.end()) {
        it->second.waiters.push_back(std::move(done));
        return;
      }
      if (pending_.size() >= Directory::kMaxPendingFetches) {
        done(absl::UnavailableError("too many directory lookups in flight"));
        return;
      }
      pending_[k].waiters.push_back(std::move(done));
    }
    fetch([this, k](absl::StatusOr<V> v, absl::Time expires) { Finish(k, std::move(v), expires); });
  }

  template <class Pred>
  void Invalidate(Pred pred) {
    std::lock_guard<std::mutex> lock(mu_);
    found_.EraseIf([&](const K& k, const Entry&) { return pred(k); });
    missing_.EraseIf([&](const K& k, const Entry&) { return pred(k); });
    for (auto& [k, p] : pending_) {
      if (pred(k)) p.stale = true;
    }
  }

  void Clear() {
    Invalidate([](const K&) { return true; });
  }

 private:
  struct Entry {
    V value;
    absl::Time expires;
  };
  struct Pending {
    std::vector<Done> waiters;
    bool stale = false;  // invalidated while in flight: answer, but do not keep
  };

  void Finish(const K& k, absl::StatusOr<V> v, absl::Time expires) {
    std::vector<Done> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(k);
      if (it == pending_.end()) return;
      waiters = std::move(it->second.waiters);
      bool stale = it->second.stale;
      pending_.erase(it);
      if (v.ok() && !stale) {
        bool neg = negative_(*v);
        (neg ? missing_ : found_).Put(k, Entry{*v, expires});
        (neg ? found_ : missing_).Erase(k);
      }
    }
    for (auto& w : waiters) w(v);
  }

  std::mutex mu_;
  cache::LruMap<K, Entry> found_, missing_;
  std::function<bool(const V&)> negative_;
  std::unordered_map<K, Pending> pending_;
};

template <class Req, class Resp>
struct Call {
  grpc::ClientContext ctx;
  Req req;
  Resp resp;
};

}  // namespace

struct Directory::State : std::enable_shared_from_this<Directory::State> {
  DirectoryBackends backends;
  absl::Duration rpc_timeout;
  const Clock& clock;
  AsyncCache<std::string, std::optional<TenantInfo>> tenants{
      kTenantCapacity, kUnknownTenantCapacity,
      [](const std::optional<TenantInfo>& t) { return !t.has_value(); }};
  AsyncCache<int64_t, Secrets> secrets{kSecretsCapacity, 1, [](const Secrets&) { return false; }};
  AsyncCache<std::string, std::optional<ApiKeyInfo>> api_keys{
      kApiKeyCapacity, kInvalidKeyCapacity,
      [](const std::optional<ApiKeyInfo>& k) { return !k.has_value(); }};
  std::mutex refresh_mu;
  cache::LruMap<int64_t, absl::Time> last_forced{kSecretsCapacity};

  State(DirectoryBackends b, absl::Duration t, const Clock& c)
      : backends(std::move(b)), rpc_timeout(t), clock(c) {}

  void SetDeadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(rpc_timeout));
  }

  void StartSecretsFetch(int64_t tn_id, Done<Secrets> done) {
    secrets.Fetch(tn_id, std::move(done), [self = shared_from_this(), tn_id](auto complete) {
      auto call = std::make_shared<Call<cloudillo::v1::TenantRef, cloudillo::v1::TokenSecrets>>();
      call->req.set_tn_id(tn_id);
      self->SetDeadline(call->ctx);
      absl::Time now = self->clock.Now();
      self->backends.access->async()->GetTokenSecrets(
          &call->ctx, &call->req, &call->resp, [self, call, complete, now](grpc::Status st) {
            if (!st.ok()) return complete(absl::UnavailableError("access: " + st.error_message()), now);
            auto value = std::make_shared<std::vector<SecretInfo>>();
            absl::Time expires = now + kSecretsTtl;
            for (const auto& s : call->resp.secrets()) {
              value->push_back({s.kid(), s.secret()});
              // A rotated secret must vanish from the cache when it stops being valid.
              if (s.expires_at() != 0) expires = std::min(expires, absl::FromUnixSeconds(s.expires_at()));
            }
            complete(Secrets(std::move(value)), expires);
          });
    });
  }
};

Directory::Directory(DirectoryBackends backends, absl::Duration rpc_timeout, const Clock& clock)
    : state_(std::make_shared<State>(std::move(backends), rpc_timeout, clock)) {}

Directory::~Directory() = default;

std::optional<std::optional<TenantInfo>> Directory::TryTenant(const std::string& id_tag) {
  return state_->tenants.Lookup(id_tag, state_->clock.Now());
}

void Directory::FetchTenant(const std::string& id_tag, Done<std::optional<TenantInfo>> done) {
  auto s = state_;
  s->tenants.Fetch(id_tag, std::move(done), [s, id_tag](auto complete) {
    auto call = std::make_shared<Call<cloudillo::v1::ResolveTenantRequest, cloudillo::v1::Tenant>>();
    call->req.set_id_tag(id_tag);
    s->SetDeadline(call->ctx);
    absl::Time now = s->clock.Now();
    s->backends.identity->async()->ResolveTenant(
        &call->ctx, &call->req, &call->resp, [s, call, complete, now](grpc::Status st) {
          if (st.ok()) {
            const auto& t = call->resp;
            return complete(
                std::optional<TenantInfo>(TenantInfo{t.tn_id(), t.id_tag(), t.status() == "active",
                                                     t.requests_per_minute(), t.requests_per_day()}),
                now + kTenantTtl);
          }
          if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
            return complete(std::optional<TenantInfo>(), now + kUnknownTenantTtl);
          }
          complete(absl::UnavailableError("identity: " + st.error_message()), now);
        });
  });
}

std::optional<Secrets> Directory::TrySecrets(int64_t tn_id) {
  return state_->secrets.Lookup(tn_id, state_->clock.Now());
}

void Directory::FetchSecrets(int64_t tn_id, Done<Secrets> done) {
  state_->StartSecretsFetch(tn_id, std::move(done));
}

bool Directory::RefreshSecrets(int64_t tn_id, Done<Secrets> done) {
  absl::Time now = state_->clock.Now();
  {
    std::lock_guard<std::mutex> lock(state_->refresh_mu);
    absl::Time* last = state_->last_forced.Find(tn_id);
    if (last && now - *last < kForcedRefreshInterval) return false;
    state_->last_forced.Put(tn_id, now);
  }
  state_->secrets.Invalidate([tn_id](int64_t k) { return k == tn_id; });
  state_->StartSecretsFetch(tn_id, std::move(done));
  return true;
}

namespace {
std::string ApiKeyCacheKey(int64_t tn_id, const std::string& key) {
  return std::to_string(tn_id) + ":" + crypto::Sha256(key);
}
}  // namespace

std::optional<std::optional<ApiKeyInfo>> Directory::TryApiKey(int64_t tn_id, const std::string& key) {
  return state_->api_keys.Lookup(ApiKeyCacheKey(tn_id, key), state_->clock.Now());
}

void Directory::FetchApiKey(int64_t tn_id, const std::string& key, Done<std::optional<ApiKeyInfo>> done) {
  auto s = state_;
  s->api_keys.Fetch(ApiKeyCacheKey(tn_id, key), std::move(done), [s, tn_id, key](auto complete) {
    auto call = std::make_shared<Call<cloudillo::v1::ResolveApiKeyRequest, cloudillo::v1::ApiKeyIdentity>>();
    call->req.set_tn_id(tn_id);
    call->req.set_key(key);
    s->SetDeadline(call->ctx);
    absl::Time now = s->clock.Now();
    s->backends.access->async()->ResolveApiKey(
        &call->ctx, &call->req, &call->resp, [s, call, complete, now](grpc::Status st) {
          absl::Time expires = now + kApiKeyTtl;
          if (st.ok()) {
            const auto& r = call->resp;
            int64_t key_id = 0;
            (void)absl::SimpleAtoi(AV(r.key_id()), &key_id);
            ApiKeyInfo info{r.tn_id(), key_id, r.subject(), r.roles(), r.scope(), r.expires_at()};
            if (info.expires_at != 0) expires = std::min(expires, absl::FromUnixSeconds(info.expires_at));
            return complete(std::optional<ApiKeyInfo>(std::move(info)), expires);
          }
          if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
              st.error_code() == grpc::StatusCode::NOT_FOUND) {
            return complete(std::optional<ApiKeyInfo>(), expires);
          }
          complete(absl::UnavailableError("access: " + st.error_message()), now);
        });
  });
}

void Directory::Invalidate(const std::string& message) {
  size_t colon = message.find(':');
  if (colon == std::string::npos) return;
  std::string kind = message.substr(0, colon), key = message.substr(colon + 1);
  if (kind == "tenant") {
    state_->tenants.Invalidate([&](const std::string& k) { return k == key; });
    return;
  }
  int64_t tn_id = 0;
  if (!absl::SimpleAtoi(AV(key), &tn_id)) return;
  if (kind == "secrets") {
    state_->secrets.Invalidate([tn_id](int64_t k) { return k == tn_id; });
  } else if (kind == "apikeys") {
    std::string prefix = key + ":";
    state_->api_keys.Invalidate(
        [&](const std::string& k) { return k.compare(0, prefix.size(), prefix) == 0; });
  }
}

void Directory::Clear() {
  state_->tenants.Clear();
  state_->secrets.Clear();
  state_->api_keys.Clear();
}

}  // namespace cloudillo::gateway
