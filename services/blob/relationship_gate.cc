#include "relationship_gate.h"

#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::blob {
namespace {

constexpr absl::Duration kIdentityTimeout = absl::Seconds(5);

std::string Key(int64_t tn_id, const std::string& id_tag) { return absl::StrCat(tn_id, "/", AV(id_tag)); }

bool DecidedByRelationship(const std::string& visibility) {
  return visibility == "F" || visibility == "2" || visibility == "C";
}

}  // namespace

bool RelationshipReads(const std::string& visibility, const cloudillo::v1::Relationship& rel) {
  if (!rel.known()) return false;
  const std::string& s = rel.status();
  if (s == "S" || s == "B" || s == "X") return false;
  if (visibility == "C") return rel.connected();
  if (visibility == "F" || visibility == "2") return rel.follower() || rel.connected();
  return false;
}

RelationshipGate::RelationshipGate(const Clock& clock, RelationshipGateOptions options)
    : clock_(clock), options_(options), entries_(options.max_entries) {}

void RelationshipGate::Connect(std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity) {
  identity_ = std::move(identity);
}

// An authenticated, unscoped caller other than the owner: one whose relationship with
// the tenant may open files to it.
static bool MayBeRelated(const cloudillo::v1::RequestContext& ctx) {
  return ctx.authenticated() && ctx.scope().empty() && !ctx.subject().empty() && !rpc::IsOwner(ctx);
}

absl::StatusOr<bool> RelationshipGate::Permits(const cloudillo::v1::RequestContext& ctx, const FileRow& f) {
  if (!MayBeRelated(ctx)) return false;
  if (f.status != "A" || !DecidedByRelationship(f.visibility)) return false;
  auto rel = Lookup(ctx.tn_id(), ctx.subject());
  if (!rel.ok()) return rel.status();
  return RelationshipReads(f.visibility, *rel);
}

absl::StatusOr<std::string> RelationshipGate::ReadableVisibilities(const cloudillo::v1::RequestContext& ctx) {
  if (!MayBeRelated(ctx)) return std::string();
  auto rel = Lookup(ctx.tn_id(), ctx.subject());
  if (!rel.ok()) return rel.status();
  std::string out;
  for (const char* v : {"F", "2", "C"})
    if (RelationshipReads(v, *rel)) out += v;
  return out;
}

absl::StatusOr<cloudillo::v1::Relationship> RelationshipGate::Lookup(int64_t tn_id,
                                                                     const std::string& id_tag) {
  if (!identity_) return cloudillo::v1::Relationship();  // unknown: reads nothing
  const std::string key = Key(tn_id, id_tag);
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Entry* e = entries_.Find(key); e && clock_.Now() < e->expires) return e->rel;
    generation = generation_;
  }
  cloudillo::v1::RelationshipsRequest req;
  req.set_tn_id(tn_id);
  req.add_id_tags(id_tag);
  cloudillo::v1::Relationships out;
  auto call = rpc::ContextWithDeadline(kIdentityTimeout);
  absl::Status st = rpc::FromGrpcStatus(identity_->GetRelationships(call.get(), req, &out));
  if (!st.ok()) return absl::UnavailableError(absl::StrCat("relationship lookup: ", st.message()));
  cloudillo::v1::Relationship rel;
  for (const auto& item : out.items()) {
    if (item.id_tag() == id_tag) rel = item;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.ttl > absl::ZeroDuration() && generation == generation_)
    entries_.Put(key, Entry{rel, clock_.Now() + options_.ttl});
  return rel;
}

void RelationshipGate::Forget(int64_t tn_id) {
  const std::string prefix = absl::StrCat(tn_id, "/");
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  entries_.EraseIf(
      [&](const std::string& key, const Entry&) { return key.compare(0, prefix.size(), prefix) == 0; });
}

void RelationshipGate::OnInvalidation(const std::string& message) {
  std::string_view m(message), prefix(cache::kRelationsPrefix);
  int64_t tn_id = 0;
  if (m.substr(0, prefix.size()) == prefix && absl::SimpleAtoi(AV(m.substr(prefix.size())), &tn_id))
    Forget(tn_id);
}

void RelationshipGate::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  entries_.Clear();
}

size_t RelationshipGate::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace cloudillo::blob
