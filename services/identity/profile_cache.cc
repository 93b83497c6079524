#include "profile_cache.h"

#include "absl/strings/numbers.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/rpc/api.h"
#include "profile_sections.h"

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

ojson KeysJson(const std::vector<PublicKeyInfo>& keys) {
  ojson arr = ojson::array();
  for (const auto& k : keys) {
    ojson e;
    e["keyId"] = k.key_id;
    e["publicKey"] = k.public_key;
    if (k.expires_at) e["expiresAt"] = FormatIsoSeconds(*k.expires_at);
    arr.push_back(std::move(e));
  }
  return arr;
}

std::string FullJson(const TenantRow& t, const std::vector<PublicKeyInfo>& keys, const Viewer& viewer) {
  ojson p = ProfileHead(t);
  if (!t.cover_pic.empty()) p["coverPic"] = t.cover_pic;
  p["keys"] = KeysJson(keys);
  json x = VisibleSections(t.x, viewer);
  if (!x.empty()) p["x"] = x;
  return p.dump();
}

}  // namespace

std::string FullJsonFor(const ProfileSnapshot& snap, const Viewer& viewer) {
  return FullJson(snap.tenant, snap.keys, viewer);
}

absl::StatusOr<TenantRow> LoadTenant(db::Pool& pool, int64_t tn_id) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool.Query("SELECT tn_id, id_tag, type, status, name, coalesce(profile_pic, ''), "
                                 "coalesce(cover_pic, ''), x::text, "
                                 "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                                 "coalesce(email, '') FROM tenants WHERE tn_id = $1",
                                 {db::P(tn_id)}));
  if (r.empty()) return rpc::Forbidden();
  const auto& row = r.rows[0];
  TenantRow t{row.Int(0), row.Str(1), row.Str(2), row.Str(3), row.Str(4), row.Str(5), row.Str(6), row.Str(8)};
  t.email = row.Str(9);
  t.x = json::parse(row.Str(7), nullptr, false);
  if (!t.x.is_object()) t.x = json::object();
  return t;
}

ojson ProfileHead(const TenantRow& t) {
  ojson p;
  p["idTag"] = t.id_tag;
  p["name"] = t.name;
  p["type"] = t.type;
  if (!t.profile_pic.empty()) p["profilePic"] = t.profile_pic;
  return p;
}

ProfileCache::ProfileCache(db::Pool& pool, const SigningKeys& keys, const Clock& clock,
                           std::shared_ptr<cache::Redis> redis)
    : pool_(pool), keys_(keys), clock_(clock), redis_(std::move(redis)) {}

std::shared_ptr<const ProfileSnapshot> ProfileCache::Cached(int64_t tn_id) {
  absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = entries_.Find(tn_id);
  if (!e || now - e->snap->fetched >= kTtl) return nullptr;
  // A key that stops being valid must vanish from /api/me when it expires.
  for (const auto& k : e->snap->keys) {
    if (k.expires_at && *k.expires_at <= now) return nullptr;
  }
  return e->snap;
}

absl::StatusOr<std::shared_ptr<const ProfileSnapshot>> ProfileCache::Get(int64_t tn_id) {
  if (auto hit = Cached(tn_id)) return hit;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = generation_;
  }
  absl::Time now = clock_.Now();
  auto snap = std::make_shared<ProfileSnapshot>();
  CL_ASSIGN_OR_RETURN(snap->tenant, LoadTenant(pool_, tn_id));
  CL_ASSIGN_OR_RETURN(snap->keys, keys_.ListValid(pool_, tn_id, now));
  // Field order and compact form are what the ETag hashes (PROTOCOL E15).
  ojson base = ProfileHead(snap->tenant);
  base["keys"] = KeysJson(snap->keys);
  snap->me_json = base.dump();
  snap->me_etag = Base64UrlEncode(crypto::Sha256(snap->me_json).substr(0, 8));
  snap->full_owner_json = FullJson(snap->tenant, snap->keys, Viewer{.owner = true});
  snap->full_public_json = FullJson(snap->tenant, snap->keys, Viewer{});
  snap->relationship_markers = DependsOnRelationship(snap->tenant.x);
  snap->fetched = now;
  std::lock_guard<std::mutex> lock(mu_);
  if (generation == generation_) entries_.Put(tn_id, Entry{snap});
  return std::shared_ptr<const ProfileSnapshot>(snap);
}

void ProfileCache::Drop(int64_t tn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.Erase(tn_id);
  ++generation_;
}

void ProfileCache::Forget(int64_t tn_id) {
  Drop(tn_id);
  if (!redis_) return;
  absl::Status st = redis_->Publish(cache::kInvalidationChannel, cache::ProfileInvalidation(tn_id));
  if (!st.ok())
    LogWarn("invalidation_publish_failed", {{"tn_id", tn_id}, {"error", std::string(st.message())}});
}

void ProfileCache::OnInvalidation(const std::string& message) {
  constexpr std::string_view kPrefix = "profile:";
  if (message.compare(0, kPrefix.size(), kPrefix) != 0) return;
  int64_t tn_id = 0;
  if (absl::SimpleAtoi(AV(std::string_view(message).substr(kPrefix.size())), &tn_id)) Drop(tn_id);
}

void ProfileCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.Clear();
  ++generation_;
}

}  // namespace cloudillo::identity
