// KeyResolver: process LRU -> Redis -> one coalesced fetch per issuer.
#include "cloudillo/federation/key_resolver.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/cache/lru_map.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/log.h"
#include "cloudillo/federation/client.h"
#include "profile_keys.h"

namespace cloudillo::federation {
namespace {

// E12: a permanent-looking answer (404, 401/403, unparsable, key not listed) blocks
// for an hour, a transient one (network, timeout, 5xx) for five minutes.
constexpr absl::Duration kLongFailure = absl::Hours(1);
constexpr absl::Duration kShortFailure = absl::Minutes(5);
// Keys: an issuer never changes a published key id's key, but a process re-reads
// Redis hourly so a Refetch elsewhere reaches it; Redis forgets after a day so a key
// the issuer dropped stops verifying.
constexpr absl::Duration kProcessKeyTtl = absl::Hours(1);
constexpr absl::Duration kRedisKeyTtl = absl::Hours(24);

// Recent fetches hold whole key lists (up to kMaxKeys each) and matter only for
// min_fetch_interval, so fewer are kept than keys.
constexpr size_t kMaxRecentFetches = 512;

struct CachedKey {
  std::string spki_der;
  std::optional<int64_t> expires_at;
  absl::Time until;
};

struct FetchRecord {
  absl::Time at;
  absl::Status status;  // OK, or Unavailable with the reason
  bool long_failure = false;
  std::vector<PublishedKey> keys;
};

std::string CacheKey(std::string_view iss, std::string_view key_id) {
  return absl::StrCat(AV(iss), ":", AV(key_id));
}
std::string RedisKeyName(const std::string& k) { return "fedkey:" + k; }
std::string RedisFailName(const std::string& k) { return "fedkeyfail:" + k; }

// "<expires_at or empty>|<SPKI DER>"
std::string EncodeKey(const PublishedKey& k) {
  return absl::StrCat(k.expires_at ? absl::StrCat(*k.expires_at) : "", "|", k.spki_der);
}
std::optional<CachedKey> DecodeKey(const std::string& v) {
  size_t bar = v.find('|');
  if (bar == std::string::npos || bar + 1 >= v.size()) return std::nullopt;
  CachedKey k;
  if (bar > 0) {
    int64_t e;
    if (!absl::SimpleAtoi(AV(std::string_view(v).substr(0, bar)), &e)) return std::nullopt;
    k.expires_at = e;
  }
  k.spki_der = v.substr(bar + 1);
  return k;
}

absl::Status Blocked(absl::Duration left) {
  return absl::UnavailableError(absl::StrCat("Key fetch temporarily blocked (retry in ",
                                             std::max<int64_t>(1, absl::ToInt64Seconds(left)), " secs)"));
}

class KeyResolverImpl : public KeyResolver {
 public:
  KeyResolverImpl(std::shared_ptr<Client> client, std::shared_ptr<cache::Redis> redis, Options options)
      : client_(std::move(client)),
        redis_(std::move(redis)),
        keys_(options.max_entries),
        failures_(options.max_entries),
        fetches_(std::min<size_t>(options.max_entries, kMaxRecentFetches)),
        min_fetch_interval_(options.min_fetch_interval) {}

  absl::StatusOr<crypto::P384PublicKey> Key(std::string_view iss, std::string_view key_id,
                                            int64_t iat) override {
    try {
      if (absl::Status st = CheckIssuer(iss); !st.ok()) return st;
      if (!ValidKeyId(key_id)) return absl::UnauthenticatedError("key id is not one an issuer can list");
      const std::string k = CacheKey(iss, key_id);
      absl::Time now = absl::Now();
      std::optional<CachedKey> hit;
      {
        std::lock_guard lock(mu_);
        if (CachedKey* e = keys_.Find(k); e && e->until > now) {
          hit = *e;
        } else if (absl::Time* f = failures_.Find(k); f && *f > now) {
          return Blocked(*f - now);
        }
      }
      if (hit) return Use(*hit, iat);  // parsing the key needs no lock
      if (auto shared = LookupRedis(k); shared) {
        if (shared->key) return Use(*shared->key, iat);
        return Blocked(shared->failure_until - now);
      }
      std::optional<FetchRecord> recent;
      {
        std::lock_guard lock(mu_);
        if (FetchRecord* r = fetches_.Find(std::string(iss)); r && now - r->at < min_fetch_interval_)
          recent = *r;
      }
      // Fetched moments ago: answer from that fetch rather than asking again.
      if (recent) return Conclude(k, key_id, *recent, iat);
      FetchRecord r = Fetch(std::string(iss));
      return Conclude(k, key_id, r, iat);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("key resolver: ", e.what()));
    }
  }

  absl::StatusOr<bool> Refetch(std::string_view iss, std::string_view key_id) override {
    try {
      if (absl::Status st = CheckIssuer(iss); !st.ok()) return st;
      if (!ValidKeyId(key_id)) return absl::UnauthenticatedError("key id is not one an issuer can list");
      const std::string k = CacheKey(iss, key_id);
      std::optional<std::string> old;
      {
        std::lock_guard lock(mu_);
        if (FetchRecord* r = fetches_.Find(std::string(iss)); r && absl::Now() - r->at < min_fetch_interval_)
          return false;
        if (CachedKey* e = keys_.Find(k)) old = e->spki_der;
      }
      if (!old) {
        if (auto shared = LookupRedis(k); shared && shared->key) old = shared->key->spki_der;
      }
      FetchRecord r = Fetch(std::string(iss));
      if (!r.status.ok()) {
        RecordFailure(k, r.long_failure ? kLongFailure : kShortFailure);
        return r.status;
      }
      for (const PublishedKey& p : r.keys) {
        if (p.key_id == key_id) return !old || *old != p.spki_der;
      }
      // The issuer no longer lists it: forget the key everywhere.
      {
        std::lock_guard lock(mu_);
        keys_.Erase(k);
      }
      if (redis_) redis_->CommandAsync({"DEL", RedisKeyName(k)}, [](absl::StatusOr<cache::Reply>) {});
      RecordFailure(k, kLongFailure);
      return absl::UnauthenticatedError("the issuer does not list this key id");
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("key resolver: ", e.what()));
    }
  }

 private:
  struct Flight {
    bool done = false;
    FetchRecord record;
  };
  struct Shared {
    std::optional<CachedKey> key;
    absl::Time failure_until;
  };

  static absl::Status CheckIssuer(std::string_view iss) {
    auto canonical = CanonicalIdTag(iss);
    auto ascii = IdTagToAscii(iss);
    if (!canonical.ok() || *canonical != iss || !ascii.ok() || ascii->size() < 5 || ascii->size() > 62)
      return absl::InvalidArgumentError("invalid issuer id_tag");
    return absl::OkStatus();
  }

  static absl::StatusOr<crypto::P384PublicKey> Use(const CachedKey& e, int64_t iat) {
    // E12 recommend: expiry is rotation-safe, it only refuses tokens made after it.
    if (e.expires_at && iat > *e.expires_at)
      return absl::UnauthenticatedError("the token was issued after its key expired");
    auto key = crypto::P384PublicKey::FromSpkiDer(e.spki_der);
    if (!key.ok()) return absl::UnavailableError("cached issuer key does not parse");
    return key;
  }

  absl::StatusOr<crypto::P384PublicKey> Conclude(const std::string& k, std::string_view key_id,
                                                 const FetchRecord& r, int64_t iat) {
    if (!r.status.ok()) {
      RecordFailure(k, r.long_failure ? kLongFailure : kShortFailure);
      return r.status;
    }
    for (const PublishedKey& p : r.keys) {
      if (p.key_id == key_id) return Use(CachedKey{p.spki_der, p.expires_at, absl::InfiniteFuture()}, iat);
    }
    RecordFailure(k, kLongFailure);
    return absl::UnauthenticatedError("the issuer does not list this key id");
  }

  void RecordFailure(const std::string& k, absl::Duration ttl) {
    absl::Time until = absl::Now() + ttl;
    {
      std::lock_guard lock(mu_);
      failures_.Put(k, until);
    }
    if (redis_) {
      redis_->CommandAsync({"SET", RedisFailName(k), absl::StrCat(absl::ToUnixMillis(until)), "PX",
                            absl::StrCat(absl::ToInt64Milliseconds(ttl))},
                           [](absl::StatusOr<cache::Reply>) {});
    }
  }

  // Null when Redis has neither entry or cannot answer now: a Redis that is down or
  // still connecting must cost a fetch, not an error or a wait.
  std::optional<Shared> LookupRedis(const std::string& k) {
    if (!redis_ || !redis_->connected()) return std::nullopt;
    auto reply = redis_->Command({"MGET", RedisKeyName(k), RedisFailName(k)});
    if (!reply.ok() || reply->type != cache::Reply::Type::kArray || reply->elements.size() != 2) {
      if (!reply.ok()) WarnRedis(reply.status());
      return std::nullopt;
    }
    absl::Time now = absl::Now();
    const cache::Reply& key = reply->elements[0];
    if (key.type == cache::Reply::Type::kString) {
      if (auto decoded = DecodeKey(key.str)) {
        decoded->until = now + kProcessKeyTtl;
        std::lock_guard lock(mu_);
        keys_.Put(k, *decoded);
        return Shared{decoded, {}};
      }
    }
    const cache::Reply& fail = reply->elements[1];
    int64_t until_ms;
    if (fail.type == cache::Reply::Type::kString && absl::SimpleAtoi(AV(fail.str), &until_ms)) {
      absl::Time until = absl::FromUnixMillis(until_ms);
      if (until > now) {
        until = std::min(until, now + kLongFailure);  // a clock ahead elsewhere cannot block longer
        std::lock_guard lock(mu_);
        failures_.Put(k, until);
        return Shared{std::nullopt, until};
      }
    }
    return std::nullopt;
  }

  void WarnRedis(const absl::Status& st) {
    absl::Time now = absl::Now();
    {
      std::lock_guard lock(mu_);
      if (now - last_redis_warning_ < absl::Minutes(1)) return;
      last_redis_warning_ = now;
    }
    LogWarn("fedkey_redis_unavailable", {{"error", std::string(st.message())}});
  }

  // One fetch per issuer at a time; callers arriving meanwhile share its result.
  FetchRecord Fetch(const std::string& iss) {
    std::shared_ptr<Flight> flight;
    {
      std::unique_lock lock(mu_);
      if (auto it = inflight_.find(iss); it != inflight_.end()) {
        flight = it->second;
        done_.wait(lock, [&] { return flight->done; });
        return flight->record;
      }
      flight = std::make_shared<Flight>();
      inflight_.emplace(iss, flight);
    }
    FetchRecord record;
    try {
      record = FetchNow(iss);
    } catch (const std::exception& e) {
      record.at = absl::Now();
      record.status = absl::UnavailableError(absl::StrCat("key fetch: ", e.what()));
    }
    if (record.status.ok()) Store(iss, record.keys);
    {
      std::lock_guard lock(mu_);
      fetches_.Put(iss, record);
      flight->record = record;
      flight->done = true;
      inflight_.erase(iss);
    }
    done_.notify_all();
    return record;
  }

  FetchRecord FetchNow(const std::string& iss) {
    FetchRecord r;
    auto response = client_->Get(iss, "/api/me");
    r.at = absl::Now();
    if (!response.ok()) {
      // A refused destination or an oversized profile will not change in minutes.
      absl::StatusCode c = response.status().code();
      r.long_failure = c == absl::StatusCode::kPermissionDenied ||
                       c == absl::StatusCode::kResourceExhausted || c == absl::StatusCode::kInvalidArgument;
      r.status =
          absl::UnavailableError(absl::StrCat("key fetch from ", iss, ": ", response.status().message()));
      return r;
    }
    if (response->status != 200) {
      r.long_failure = response->status == 404 || response->status == 401 || response->status == 403;
      r.status = absl::UnavailableError(absl::StrCat("key fetch from ", iss, ": HTTP ", response->status));
      return r;
    }
    auto keys = ParseProfileKeys(response->body, iss);
    if (!keys.ok()) {
      r.long_failure = true;
      r.status = absl::UnavailableError(absl::StrCat("key fetch from ", iss, ": ", keys.status().message()));
      return r;
    }
    r.keys = std::move(*keys);
    return r;
  }

  void Store(const std::string& iss, const std::vector<PublishedKey>& keys) {
    absl::Time until = absl::Now() + kProcessKeyTtl;
    std::vector<std::string> names;
    {
      std::lock_guard lock(mu_);
      for (const PublishedKey& p : keys) {
        std::string k = CacheKey(iss, p.key_id);
        keys_.Put(k, CachedKey{p.spki_der, p.expires_at, until});
        failures_.Erase(k);
        names.push_back(std::move(k));
      }
    }
    if (!redis_) return;
    for (size_t i = 0; i < keys.size(); ++i) {
      redis_->CommandAsync({"SET", RedisKeyName(names[i]), EncodeKey(keys[i]), "PX",
                            absl::StrCat(absl::ToInt64Milliseconds(kRedisKeyTtl))},
                           [](absl::StatusOr<cache::Reply>) {});
      redis_->CommandAsync({"DEL", RedisFailName(names[i])}, [](absl::StatusOr<cache::Reply>) {});
    }
  }

  const std::shared_ptr<Client> client_;
  const std::shared_ptr<cache::Redis> redis_;
  std::mutex mu_;
  std::condition_variable done_;
  cache::LruMap<std::string, CachedKey> keys_;
  cache::LruMap<std::string, absl::Time> failures_;
  cache::LruMap<std::string, FetchRecord> fetches_;
  // No issuer is fetched twice within this, whatever tokens arrive: random key ids
  // must not turn us into a request amplifier against the issuer.
  const absl::Duration min_fetch_interval_;
  std::map<std::string, std::shared_ptr<Flight>> inflight_;  // bounded by the callers' threads
  absl::Time last_redis_warning_ = absl::InfinitePast();
};

}  // namespace

std::shared_ptr<KeyResolver> KeyResolver::Create(std::shared_ptr<Client> client,
                                                 std::shared_ptr<cache::Redis> redis, Options options) {
  return std::make_shared<KeyResolverImpl>(std::move(client), std::move(redis), options);
}

}  // namespace cloudillo::federation
