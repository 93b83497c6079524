#include "tenant_cache.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <string_view>

#include "absl/strings/numbers.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::action {

struct TenantCache::Metrics {
  prometheus::Counter* counters[2][2] = {};  // [relationship][hit]
};

TenantCache::TenantCache(const Clock& clock, TenantCacheOptions options, prometheus::Registry* registry)
    : clock_(clock), options_(options), metrics_(new Metrics), tenants_(options.max_tenants) {
  if (options_.max_per_tenant < 1) options_.max_per_tenant = 1;
  if (!registry) return;
  auto& family = prometheus::BuildCounter()
                     .Name("cloudillo_action_tenant_cache_total")
                     .Help("Lookups of tenant settings and relationships in the action service's cache")
                     .Register(*registry);
  for (int rel = 0; rel < 2; ++rel)
    for (int hit = 0; hit < 2; ++hit)
      metrics_->counters[rel][hit] =
          &family.Add({{"kind", rel ? "relationship" : "setting"}, {"result", hit ? "hit" : "miss"}});
}

TenantCache::~TenantCache() = default;

uint64_t TenantCache::Generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void TenantCache::Count(bool relationship, bool hit) {
  if (prometheus::Counter* c = metrics_->counters[relationship][hit]) c->Increment();
}

TenantCache::Tenant* TenantCache::Slot(int64_t tn_id, uint64_t generation) {
  if (options_.ttl <= absl::ZeroDuration() || generation != generation_) return nullptr;
  Tenant* t = tenants_.Find(tn_id);
  return t ? t : &tenants_.Put(tn_id, Tenant{});
}

std::optional<std::optional<cloudillo::v1::Relationship>> TenantCache::FindRelationship(
    int64_t tn_id, const std::string& id_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  Tenant* t = tenants_.Find(tn_id);
  auto it = t ? t->rels.find(id_tag) : decltype(t->rels)::iterator();
  bool hit = t && it != t->rels.end() && clock_.Now() < it->second.expires;
  Count(true, hit);
  if (!hit) return std::nullopt;
  return it->second.rel;
}

void TenantCache::PutRelationship(int64_t tn_id, const std::string& id_tag,
                                  std::optional<cloudillo::v1::Relationship> rel, uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  Tenant* t = Slot(tn_id, generation);
  if (!t) return;
  if (t->rels.size() >= options_.max_per_tenant && !t->rels.contains(id_tag)) t->rels.clear();
  t->rels[id_tag] = Rel{std::move(rel), clock_.Now() + options_.ttl};
}

std::optional<std::string> TenantCache::FindSetting(int64_t tn_id, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Tenant* t = tenants_.Find(tn_id);
  auto it = t ? t->settings.find(key) : decltype(t->settings)::iterator();
  bool hit = t && it != t->settings.end() && clock_.Now() < it->second.expires;
  Count(false, hit);
  if (!hit) return std::nullopt;
  return it->second.value;
}

void TenantCache::PutSetting(int64_t tn_id, const std::string& key, std::string value_json,
                             uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  Tenant* t = Slot(tn_id, generation);
  if (!t) return;
  if (t->settings.size() >= options_.max_per_tenant && !t->settings.contains(key)) t->settings.clear();
  t->settings[key] = Setting{std::move(value_json), clock_.Now() + options_.ttl};
}

void TenantCache::DropRelationship(int64_t tn_id, const std::string& id_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  if (Tenant* t = tenants_.Find(tn_id)) t->rels.erase(id_tag);
}

void TenantCache::DropRelationships(int64_t tn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  if (Tenant* t = tenants_.Find(tn_id)) t->rels.clear();
}

void TenantCache::DropSettings(int64_t tn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  if (Tenant* t = tenants_.Find(tn_id)) t->settings.clear();
}

void TenantCache::OnInvalidation(const std::string& message) {
  std::string_view m(message);
  auto tenant_of = [&](std::string_view prefix) -> std::optional<int64_t> {
    int64_t tn_id = 0;
    if (m.substr(0, prefix.size()) != prefix) return std::nullopt;
    if (!absl::SimpleAtoi(AV(m.substr(prefix.size())), &tn_id)) return std::nullopt;
    return tn_id;
  };
  if (auto tn = tenant_of(cache::kRelationsPrefix)) DropRelationships(*tn);
  if (auto tn = tenant_of(cache::kSettingsPrefix)) DropSettings(*tn);
}

void TenantCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  tenants_.Clear();
}

}  // namespace cloudillo::action
