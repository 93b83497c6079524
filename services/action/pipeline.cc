#include "pipeline.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/status.h"
#include "token_claims.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

constexpr absl::Duration kIdentityTimeout = absl::Seconds(10);

// The calling thread's open BusBatch: the bus messages are made deep inside Receive()
// and the effects it runs (Create of a CONN:ACC, a STAT), where passing a batch along
// every call would touch them all.
thread_local BusBatch* current_bus_batch = nullptr;

bool HasFlag(const std::string& flags, char f) { return flags.find(f) != std::string::npos; }

// E13: the types the reference always delivers straight to their audience.
bool MustBeAddressedToUs(const std::string& t) {
  std::string base = t.substr(0, t.find(':'));
  return base == "CONN" || base == "FLLW" || base == "FSHR" || base == "PRINVT" || t == "IDP:REG";
}

// Reaction codes of §2.11 (L=LIKE, V=LOVE, H=LAUGH, W=WOW, S=SAD, A=ANGRY).
char ReactionCode(const std::string& sub_type) {
  if (sub_type == "LIKE" || sub_type.empty()) return 'L';
  if (sub_type == "LOVE") return 'V';
  if (sub_type == "LAUGH") return 'H';
  if (sub_type == "WOW") return 'W';
  if (sub_type == "SAD") return 'S';
  if (sub_type == "ANGRY") return 'A';
  return 0;
}

// "<total>,<code><count>..." from "LIKE:3,LOVE:1": top 5 by count, then by code (§2.11).
std::string ReactionSummary(const std::string& aggregated) {
  std::vector<std::pair<int64_t, char>> counts;
  int64_t total = 0;
  for (absl::string_view item : absl::StrSplit(aggregated, ',', absl::SkipEmpty())) {
    size_t colon = item.find(':');
    int64_t n = 0;
    char code = ReactionCode(std::string(item.substr(0, colon)));
    if (!code || colon == absl::string_view::npos || !absl::SimpleAtoi(item.substr(colon + 1), &n)) continue;
    total += n;
    counts.emplace_back(n, code);
  }
  std::sort(counts.begin(), counts.end(),
            [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::string out = total ? std::to_string(total) : "";
  for (size_t i = 0; i < counts.size() && i < 5; ++i)
    absl::StrAppend(&out, ",", std::string(1, counts[i].second), counts[i].first);
  return out;
}

cloudillo::v1::ActionClaims ClaimsOf(const ActionRow& row) {
  cloudillo::v1::ActionClaims c;
  c.set_t(row.full_type());
  c.set_c_json(row.content);
  c.set_p(row.parent_id);
  for (const auto& a : row.attachments) c.add_a(a);
  c.set_aud(row.audience);
  c.set_sub(row.subject);
  c.set_iat(row.created_at / 1000000);
  c.set_exp(row.expires_at);
  c.set_f(row.flags);
  if (row.visibility != "D") c.set_v(row.visibility);
  return c;
}

}  // namespace

Pipeline::Pipeline(ActionStore& store, std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity,
                   std::shared_ptr<federation::KeyResolver> keys, std::shared_ptr<cache::Redis> redis,
                   const Clock& clock)
    : store_(store),
      subs_(store),
      identity_(std::move(identity)),
      keys_(std::move(keys)),
      redis_(std::move(redis)),
      clock_(clock) {}

// --- identity ----------------------------------------------------------------------

absl::StatusOr<std::string> Pipeline::Sign(int64_t tn_id, const cloudillo::v1::ActionClaims& claims,
                                           int pow) {
  cloudillo::v1::SignActionRequest req;
  req.set_tn_id(tn_id);
  *req.mutable_claims() = claims;
  req.set_pow_required(pow);
  cloudillo::v1::SignedAction out;
  auto ctx = rpc::ContextWithDeadline(pow > 0 ? absl::Seconds(60) : kIdentityTimeout);
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(identity_->SignAction(ctx.get(), req, &out)));
  return out.token();
}

federation::ProxyExchange::Signer Pipeline::ProxySigner() {
  return [this](int64_t tn_id, const std::string& aud, int64_t iat, int64_t exp) {
    cloudillo::v1::ActionClaims c;
    c.set_t("PROXY");
    c.set_aud(aud);
    c.set_iat(iat);
    c.set_exp(exp);
    return Sign(tn_id, c, 0);
  };
}

absl::StatusOr<ProfileIndex> Pipeline::Profiles(int64_t tn_id, std::vector<std::string> id_tags) {
  ProfileIndex index;
  if (id_tags.empty()) return index;
  std::sort(id_tags.begin(), id_tags.end());
  id_tags.erase(std::unique(id_tags.begin(), id_tags.end()), id_tags.end());
  std::vector<std::string> missing;
  for (auto& t : id_tags) {
    auto cached = cache_ ? cache_->FindRelationship(tn_id, t) : std::nullopt;
    if (!cached)
      missing.push_back(t);
    else if (*cached)
      index[t] = **cached;
  }
  if (missing.empty()) return index;
  uint64_t generation = cache_ ? cache_->Generation() : 0;
  cloudillo::v1::RelationshipsRequest req;
  req.set_tn_id(tn_id);
  for (auto& t : missing) req.add_id_tags(t);
  cloudillo::v1::Relationships out;
  auto ctx = rpc::ContextWithDeadline(kIdentityTimeout);
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(identity_->GetRelationships(ctx.get(), req, &out)));
  for (const auto& r : out.items()) index[r.id_tag()] = r;
  if (cache_) {
    for (auto& t : missing) {
      auto it = index.find(t);
      cache_->PutRelationship(tn_id, t, it == index.end() ? std::nullopt : std::optional(it->second),
                              generation);
    }
  }
  return index;
}

absl::StatusOr<cloudillo::v1::Relationship> Pipeline::Relationship(int64_t tn_id, const std::string& id_tag) {
  CL_ASSIGN_OR_RETURN(ProfileIndex index, Profiles(tn_id, {id_tag}));
  return index[id_tag];
}

absl::Status Pipeline::UpdateRelationship(int64_t tn_id, const std::string& id_tag,
                                          std::optional<bool> connected, std::optional<bool> following,
                                          std::optional<bool> follower, std::optional<std::string> roles) {
  cloudillo::v1::RelationshipUpdate req;
  req.set_tn_id(tn_id);
  req.set_id_tag(id_tag);
  if (connected) req.set_connected(*connected);
  if (following) req.set_following(*following);
  if (follower) req.set_follower(*follower);
  if (roles) req.set_roles(*roles);
  cloudillo::v1::Empty out;
  auto ctx = rpc::ContextWithDeadline(kIdentityTimeout);
  absl::Status st = rpc::FromGrpcStatus(identity_->UpdateRelationship(ctx.get(), req, &out));
  // Even a failed call may have written: the next token of this peer asks identity.
  if (cache_) cache_->DropRelationship(tn_id, id_tag);
  return st;
}

absl::StatusOr<std::string> Pipeline::Setting(int64_t tn_id, const std::string& key) {
  if (cache_) {
    if (auto cached = cache_->FindSetting(tn_id, key)) return *cached;
  }
  uint64_t generation = cache_ ? cache_->Generation() : 0;
  cloudillo::v1::TenantSettingsRequest req;
  req.set_tn_id(tn_id);
  req.add_keys(key);
  cloudillo::v1::TenantSettingsReply out;
  auto ctx = rpc::ContextWithDeadline(kIdentityTimeout);
  CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(identity_->GetTenantSettings(ctx.get(), req, &out)));
  auto it = out.values_json().find(key);
  std::string value = it == out.values_json().end() ? std::string("null") : it->second;
  if (cache_) cache_->PutSetting(tn_id, key, value, generation);
  return value;
}

absl::StatusOr<std::vector<std::string>> Pipeline::Followers(int64_t tn_id) {
  std::vector<std::string> all;
  std::string after;
  for (;;) {
    cloudillo::v1::FollowersRequest req;
    req.set_tn_id(tn_id);
    req.set_after_id_tag(after);
    req.set_limit(1000);
    cloudillo::v1::FollowersReply out;
    auto ctx = rpc::ContextWithDeadline(kIdentityTimeout);
    CL_RETURN_IF_ERROR(rpc::FromGrpcStatus(identity_->ListFollowers(ctx.get(), req, &out)));
    for (const auto& t : out.id_tags()) all.push_back(t);
    if (out.id_tags_size() < 1000) return all;
    after = all.back();
  }
}

// --- create ------------------------------------------------------------------------

absl::StatusOr<ActionRow> Pipeline::Create(const Tenant& tenant, const CreateInput& in) {
  std::string t = in.sub_type.empty() ? in.type : in.type + ":" + in.sub_type;
  if (!ValidTypeName(t)) return rpc::BadRequest("Unknown action type");
  const TypeDef* known = FindType(t);
  const TypeDef& def = known ? *known : CustomType();
  if (t == "PROXY") return rpc::BadRequest("Unknown action type");

  Claims c;
  c.iss = tenant.id_tag;
  c.t = t;
  c.c = in.content;
  c.p = in.parent_id;
  c.a = in.attachments;
  c.aud = in.audience;
  c.sub = in.subject;
  c.f = in.flags.empty() ? std::string(DefaultFlags(c.base_type())) : in.flags;
  c.exp = in.expires_at;
  c.iat = std::max(in.iat, absl::ToUnixSeconds(clock_.Now()));
  if (!c.aud.empty() && !IsCanonicalIdTag(c.aud)) return rpc::BadRequest("invalid audience id_tag");

  std::optional<ActionRow> parent, subject;
  if (!c.p.empty()) {
    CL_ASSIGN_OR_RETURN(parent, store_.Find(tenant.tn_id, c.p));
  }
  if (!c.sub.empty() && absl::StartsWith(c.sub, "a1~")) {
    CL_ASSIGN_OR_RETURN(subject, store_.Find(tenant.tn_id, c.sub));
  }
  // §2.5 item 7: a reply finds its home through the parent.
  if (c.aud.empty() && !def.broadcast && parent)
    c.aud = parent->audience.empty() ? parent->issuer : parent->audience;
  // §2.6 flag gates (never for *:DEL).
  if (c.sub_type() != "DEL") {
    if (c.base_type() == "CMNT" && parent && HasFlag(parent->flags, 'c'))
      return rpc::BadRequest("comments disabled");
    if (c.base_type() == "REACT" && subject && HasFlag(subject->flags, 'r')) {
      return rpc::BadRequest("reactions disabled");
    }
  }
  if (!def.allow_unknown && !c.aud.empty() && c.aud != tenant.id_tag) {
    CL_ASSIGN_OR_RETURN(auto rel, Relationship(tenant.tn_id, c.aud));
    if (!rel.following() && !rel.connected())
      return rpc::Forbidden("not following or connected to the audience");
  }
  // §2.9: a MSG in a CONV needs a membership there, an INVT a moderator's (§2.11).
  std::string gated;
  if (RequiresSubscription(c.base_type())) gated = absl::StartsWith(c.sub, "a1~") ? c.sub : c.p;
  if (c.base_type() == "INVT" && c.sub_type().empty() && absl::StartsWith(c.sub, "a1~")) gated = c.sub;
  if (!gated.empty()) {
    absl::Status st = subs_.CheckGate(tenant.tn_id, tenant.id_tag, c.base_type(), c.sub_type(), gated);
    if (absl::IsNotFound(st)) return rpc::NotFoundError();
    if (!st.ok()) return rpc::Forbidden(std::string(st.message()));
  }
  // §2.11: an update or an invitation names no role above what its issuer holds.
  bool names_role =
      (c.base_type() == "SUBS" && c.sub_type() == "UPD") || (c.base_type() == "INVT" && c.sub_type().empty());
  if (names_role && absl::StartsWith(c.sub, "a1~")) {
    auto ceiling = subs_.RoleCeiling(tenant.tn_id, tenant.id_tag, c.base_type(), c.sub_type(), c.sub);
    if (absl::IsNotFound(ceiling.status())) return rpc::NotFoundError();
    if (!ceiling.ok()) return ceiling.status();
    if (RoleNamedIn(c.c) > *ceiling) return rpc::Forbidden("role above the issuer's own");
  }
  // E10: explicit, parent, subject, type default, setting, F; `O` promotes to C.
  std::string v = in.visibility;
  if (v.empty() && parent && parent->visibility != "D") v = parent->visibility;
  if (v.empty() && subject && subject->visibility != "D") v = subject->visibility;
  if (v.empty() && c.base_type() == "CONV") v = "S";
  if (v.empty()) {
    CL_ASSIGN_OR_RETURN(std::string setting, Setting(tenant.tn_id, "profile.default_visibility"));
    json sv = json::parse(setting, nullptr, false);
    if (sv.is_string() && (sv == "P" || sv == "C" || sv == "F")) v = sv.get<std::string>();
  }
  if (v.empty()) v = "F";
  if (HasFlag(c.f, 'O') && v != "S") v = "C";
  c.v = v;
  CL_RETURN_IF_ERROR(ValidateFields(def, c));

  ActionRow row;
  row.type = c.base_type();
  row.sub_type = c.sub_type();
  row.issuer = c.iss;
  row.audience = c.aud;
  row.parent_id = c.p;
  row.root_id = parent ? (parent->root_id.empty() ? parent->action_id : parent->root_id) : "";
  row.subject = c.sub;
  if (c.c) row.content = c.c->dump();
  row.attachments = c.a;
  row.visibility = c.v;
  row.flags = c.f;
  row.created_at = c.iat * 1000000;
  row.expires_at = c.exp;
  row.outbound = true;
  row.status = "A";
  row.key = DedupKey(def, c);
  CL_ASSIGN_OR_RETURN(row.token, Sign(tenant.tn_id, ClaimsOf(row), 0));
  row.action_id = ActionIdOf(row.token);
  if (def.ephemeral) {
    PublishBus(tenant, row);
    if (ephemeral_) {
      auto delivery = Recipients(tenant, def, row);
      if (!delivery.ok()) {
        LogInfo("presence_not_sent",
                {{"tn_id", tenant.tn_id}, {"error", std::string(delivery.status().message())}});
      } else if (!delivery->recipients.empty()) {
        ephemeral_(tenant, delivery->recipients, row.token);
      }
    }
    return row;
  }
  // Before any delivery exists, so a recipient's node that fetches an attachment finds
  // it open (the reference does it before signing). Best effort, as the reference: a
  // file left closed stays a reference at the recipients, the action still goes out.
  if (!row.attachments.empty() && raise_attachments_) {
    if (absl::Status st = raise_attachments_(tenant, row.attachments, row.visibility); !st.ok())
      LogWarn("attachments_not_opened", {{"tn_id", tenant.tn_id}, {"error", std::string(st.message())}});
  }
  CL_ASSIGN_OR_RETURN(Delivery delivery, Recipients(tenant, def, row));
  CL_RETURN_IF_ERROR(store_.pool().Transact([&](db::Tx& tx) -> absl::Status {
    CL_ASSIGN_OR_RETURN(row.a_id, store_.Insert(tx, tenant.tn_id, row));
    return store_.EnqueueDeliveries(tx, tenant.tn_id, row.a_id, delivery.recipients, delivery.related);
  }));
  row.received_at = row.created_at;
  CL_RETURN_IF_ERROR(OnCreate(tenant, row));
  PublishBus(tenant, row);
  return row;
}

// §2.5 with E24 item 3.
absl::StatusOr<Pipeline::Delivery> Pipeline::Recipients(const Tenant& tenant, const TypeDef& def,
                                                        const ActionRow& row) {
  Delivery out;
  if (def.local_only) return out;
  bool only_followers = false;  // ListFollowers leaves out suspended and blocked profiles
  std::optional<ActionRow> subject;
  if (absl::StartsWith(row.subject, "a1~")) {
    CL_ASSIGN_OR_RETURN(subject, store_.Find(tenant.tn_id, row.subject));
  }
  // Item 6: the subject's token travels along, so the receiver needs no fetch.
  if (DeliverSubject(row.type) && subject) out.related.push_back(subject->token);
  if (def.broadcast && row.audience.empty()) {
    bool to_followers = true;
    // A child of a member-scoped container (a STAT or the relay APRV of a CONV) is
    // for the members alone; subscriber fan-out below covers them.
    if (!row.parent_id.empty()) {
      CL_ASSIGN_OR_RETURN(auto parent, store_.Find(tenant.tn_id, row.parent_id));
      const TypeDef* pd = parent ? FindType(parent->full_type()) : nullptr;
      to_followers = pd && pd->broadcast;
    }
    if (to_followers) {
      CL_ASSIGN_OR_RETURN(out.recipients, Followers(tenant.tn_id));
      only_followers = true;
    }
  } else if (row.type == "APRV" && subject && FindType(subject->full_type()) &&
             FindType(subject->full_type())->broadcast) {
    CL_ASSIGN_OR_RETURN(out.recipients, Followers(tenant.tn_id));  // E24 item 3
    only_followers = true;
  } else {
    if (!row.audience.empty()) out.recipients.push_back(row.audience);
    // Item 4: an INVT or REPOST also reaches the subject's owner.
    if (DeliverToSubjectOwner(row.type)) {
      if (IsIdentityRef(row.subject)) out.recipients.push_back(row.subject.substr(1));
      if (subject) out.recipients.push_back(subject->issuer);
    }
  }
  size_t before = out.recipients.size();
  CL_RETURN_IF_ERROR(AddSubscribers(tenant, row, out.recipients));
  only_followers = only_followers && out.recipients.size() == before;
  std::vector<std::string>& r = out.recipients;
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  r.erase(std::remove_if(r.begin(), r.end(),
                         [&](const std::string& t) { return t == tenant.id_tag || !IsCanonicalIdTag(t); }),
          r.end());
  if (r.empty() || only_followers) return out;
  // Item 4: no delivery to a profile we suspended, blocked or banned.
  CL_ASSIGN_OR_RETURN(ProfileIndex profiles, Profiles(tenant.tn_id, r));
  r.erase(std::remove_if(r.begin(), r.end(),
                         [&](const std::string& t) {
                           const std::string& st = profiles[t].status();
                           return st == "B" || st == "S" || st == "X";
                         }),
          r.end());
  return out;
}

// §2.11 and E11, sender side.
absl::Status Pipeline::OnCreate(const Tenant& tenant, const ActionRow& row) {
  const std::string t = row.full_type();
  const std::string& aud = row.audience;
  if (t == "CONN") return UpdateRelationship(tenant.tn_id, aud, std::nullopt, true, std::nullopt);
  if (t == "CONN:ACC") LinkFormed(tenant, aud);  // our accept, manual or automatic
  if (t == "CONN:ACC") return UpdateRelationship(tenant.tn_id, aud, true, true, true);
  if (t == "CONN:DEL") return UpdateRelationship(tenant.tn_id, aud, false, std::nullopt, std::nullopt, "");
  if (t == "FLLW") return UpdateRelationship(tenant.tn_id, aud, std::nullopt, true, std::nullopt);
  if (t == "FLLW:DEL") return UpdateRelationship(tenant.tn_id, aud, std::nullopt, false, std::nullopt);
  // The owner reacting to or commenting on its own action counts it at once.
  if (row.type == "REACT" && !row.subject.empty()) return UpdateCounters(tenant, row.subject);
  if (row.type == "CMNT" && !row.parent_id.empty()) return UpdateCounters(tenant, row.parent_id);
  // §2.11 CONV: the creator is its first member, as admin; the SUBS goes to the
  // CONV's home so a CONV hosted elsewhere (aud) learns it too.
  if (t == "CONV") {
    CreateInput subs;
    subs.type = "SUBS";
    subs.audience = aud.empty() ? tenant.id_tag : aud;
    subs.subject = row.action_id;
    subs.content = json{{"role", "admin"}};
    return Create(tenant, subs).status();
  }
  if (t == "SUBS:DEL") return subs_.RetireInvitations(tenant.tn_id, row.subject, tenant.id_tag);
  return absl::OkStatus();
}

// --- receive -----------------------------------------------------------------------

absl::StatusOr<Received> Pipeline::Receive(const Tenant& tenant, const std::string& token,
                                           const std::vector<std::string>& related, bool pre_approved,
                                           KnownActions* lookups, Durability durability) {
  CL_ASSIGN_OR_RETURN(Claims c, DecodeClaims(token));
  CL_ASSIGN_OR_RETURN(Decided d, Decide(tenant, token, c, ActionIdOf(token), pre_approved, lookups));
  return StoreDecided(tenant, d, related, durability);
}

absl::StatusOr<Received> Pipeline::StoreDecided(const Tenant& tenant, Decided& d,
                                                const std::vector<std::string>& related,
                                                Durability durability) {
  if (d.outcome == Received::kEphemeral) return d.outcome;
  if (d.outcome == Received::kStored) {
    absl::Status inserted = store_.CommitAtomic(
        [&](db::Tx& tx) -> absl::Status {
          CL_ASSIGN_OR_RETURN(d.row.a_id, store_.Insert(tx, tenant.tn_id, d.row));
          return absl::OkStatus();
        },
        durability);
    if (absl::IsAlreadyExists(inserted)) {
      d.outcome = Received::kDuplicate;  // a concurrent verifier stored it first
    } else {
      CL_RETURN_IF_ERROR(inserted);
      CL_RETURN_IF_ERROR(AfterStored(tenant, d.row));
    }
  }
  ReceiveRelated(tenant, d, related);
  return d.outcome;
}

absl::StatusOr<Pipeline::Decided> Pipeline::Decide(const Tenant& tenant, const std::string& token,
                                                   const Claims& c, const std::string& action_id,
                                                   bool pre_approved, KnownActions* lookups) {
  CL_ASSIGN_OR_RETURN(crypto::P384PublicKey key, keys_->Key(c.iss, c.k, c.iat));
  absl::Time now = clock_.Now();
  if (absl::Status st = VerifyToken(token, c, key, now); !st.ok()) {
    // E12: a stale cached key gets one refetch.
    CL_ASSIGN_OR_RETURN(bool changed, keys_->Refetch(c.iss, c.k));
    if (!changed) return st;
    CL_ASSIGN_OR_RETURN(key, keys_->Key(c.iss, c.k, c.iat));
    CL_RETURN_IF_ERROR(VerifyToken(token, c, key, now));
  }
  if (c.t == "PROXY") return absl::InvalidArgumentError("PROXY tokens are not actions");
  const TypeDef* known = FindType(c.t);
  const TypeDef& def = known ? *known : CustomType();
  CL_RETURN_IF_ERROR(ValidateFields(def, c));
  if (c.iss == tenant.id_tag) return absl::PermissionDeniedError("own action");
  if (MustBeAddressedToUs(c.t) && c.aud != tenant.id_tag)
    return absl::PermissionDeniedError("not addressed to us");

  std::optional<std::optional<ActionRow>> looked_up;
  if (lookups) looked_up = lookups->Take(tenant.tn_id, action_id);
  if (!looked_up) {
    CL_ASSIGN_OR_RETURN(looked_up, store_.Find(tenant.tn_id, action_id));
  }
  Decided d;
  d.action_id = action_id;
  d.sub = c.sub;
  if (*looked_up) {
    d.outcome = Received::kDuplicate;  // E22: 201, related processed again
    d.row = std::move(**looked_up);
    return d;
  }
  std::optional<ActionRow> parent, subject;
  if (!c.p.empty()) {
    CL_ASSIGN_OR_RETURN(parent, store_.Find(tenant.tn_id, c.p));
  }
  if (!c.sub.empty() && absl::StartsWith(c.sub, "a1~")) {
    CL_ASSIGN_OR_RETURN(subject, store_.Find(tenant.tn_id, c.sub));
  }
  CL_ASSIGN_OR_RETURN(auto rel, Relationship(tenant.tn_id, c.iss));
  if (rel.status() == "B" || rel.status() == "S" || rel.status() == "X") {
    return absl::PermissionDeniedError("issuer blocked");
  }
  if (!def.allow_unknown && !pre_approved && !rel.following() && !rel.connected()) {
    // Subject-anchored rules R1 and R2 of §2.8 step 5.
    bool r1 = (c.base_type() == "REACT" || c.base_type() == "REPOST") && subject &&
              subject->visibility == "P" &&
              (subject->issuer == tenant.id_tag || subject->audience == tenant.id_tag);
    bool r2 = c.base_type() == "STAT" && parent.has_value();
    // R3: the owner of a relay_children container vouching for one of its children.
    bool r3 = c.base_type() == "APRV" && parent && RelayChildren(parent->type) && OwnerOf(*parent) == c.iss;
    if (!r1 && !r2 && !r3) return absl::PermissionDeniedError("no relationship with the issuer");
  }
  // Step 6: a MSG in a CONV comes from one of its members (or its creator).
  if (RequiresSubscription(c.base_type()) && !pre_approved) {
    const std::string& target = absl::StartsWith(c.sub, "a1~") ? c.sub : c.p;
    if (!target.empty())
      CL_RETURN_IF_ERROR(subs_.CheckGate(tenant.tn_id, c.iss, c.base_type(), c.sub_type(), target));
  }
  if (c.sub_type() != "DEL") {
    if (c.base_type() == "CMNT" && parent && HasFlag(parent->flags, 'c')) {
      return absl::InvalidArgumentError("comments disabled");
    }
    if (c.base_type() == "REACT" && subject && HasFlag(subject->flags, 'r')) {
      return absl::InvalidArgumentError("reactions disabled");
    }
  }
  ActionRow row = RowFromClaims(c, token, action_id);
  row.root_id = parent ? (parent->root_id.empty() ? parent->action_id : parent->root_id) : "";
  row.key = DedupKey(def, c);
  // §2.6 on receipt: explicit, parent, subject, the setting, F.
  std::string v = c.v;
  if (v.empty() && parent && parent->visibility != "D") v = parent->visibility;
  if (v.empty() && subject && subject->visibility != "D") v = subject->visibility;
  if (v.empty()) {
    CL_ASSIGN_OR_RETURN(std::string setting, Setting(tenant.tn_id, "profile.default_visibility"));
    json sv = json::parse(setting, nullptr, false);
    v = sv.is_string() && sv.get<std::string>().size() == 1 ? sv.get<std::string>() : "F";
  }
  row.visibility = v;
  if (def.ephemeral) {
    PublishBus(tenant, row);
    d.outcome = Received::kEphemeral;
    return d;
  }
  if (!row.attachments.empty() && fetch_attachments_) {
    // §2.8 step 11: from the audience when that is another node (a community relays
    // its members' posts), else from the issuer. A failure leaves nothing stored.
    const std::string& source = !c.aud.empty() && c.aud != tenant.id_tag ? c.aud : c.iss;
    CL_RETURN_IF_ERROR(fetch_attachments_(tenant, source, row.attachments, c.v));
  }
  CL_ASSIGN_OR_RETURN(row.status, InboundStatus(tenant, row, pre_approved));
  d.row = std::move(row);
  return d;
}

absl::Status Pipeline::AfterStored(const Tenant& tenant, ActionRow& row) {
  row.received_at = absl::ToUnixMicros(clock_.Now());
  CL_RETURN_IF_ERROR(OnReceive(tenant, row));
  if (row.status == "A") CL_RETURN_IF_ERROR(RelayChild(tenant, row));
  CL_RETURN_IF_ERROR(AutoApprove(tenant, row));
  if (row.status != "D") PublishBus(tenant, row);
  return absl::OkStatus();
}

bool Pipeline::EffectFree(const Tenant& tenant, const ActionRow& row) {
  if (!row.key.empty()) return false;  // supersession
  // OnReceive's types, and INVT and SUBS, whose statuses read the rows before them.
  static const std::set<std::string> kWithEffects = {"CONN", "FLLW", "REACT", "CMNT", "STAT", "SUBS", "INVT"};
  if (kWithEffects.count(row.type)) return false;
  // RelayChild looks at the container; AutoApprove answers what is addressed to us.
  if (!row.parent_id.empty() || absl::StartsWith(row.subject, "a1~")) return false;
  return row.audience != tenant.id_tag;
}

// E19 recommend: related tokens only for an accepted primary, and only the primary's
// subject or a STAT of the primary or of its subject.
void Pipeline::ReceiveRelated(const Tenant& tenant, const Decided& d,
                              const std::vector<std::string>& related) {
  if (d.outcome == Received::kEphemeral || d.row.status == "D") return;
  for (const std::string& rt : related) {
    auto rc = DecodeClaims(rt);
    if (!rc.ok()) continue;
    std::string rid = ActionIdOf(rt);
    bool wanted =
        rid == d.sub || (rc->t == "STAT" && (rc->p == d.action_id || (!d.sub.empty() && rc->p == d.sub)));
    if (!wanted) continue;
    auto r = Receive(tenant, rt, {}, true);
    if (!r.ok()) LogInfo("related_refused", {{"error", std::string(r.status().message())}});
  }
}

// An active INVT with subject "@<us>" for `id_tag` (§2.11 INVT into a community).
absl::StatusOr<bool> Pipeline::InvitedToUs(const Tenant& tenant, const std::string& id_tag) {
  CL_ASSIGN_OR_RETURN(auto invt,
                      store_.LatestByKey(tenant.tn_id, absl::StrCat("INVT:@", tenant.id_tag, ":", id_tag)));
  return invt && invt->status == "A" && invt->sub_type.empty();
}

// E11, receiver side: the status an inbound row rests at.
absl::StatusOr<std::string> Pipeline::InboundStatus(const Tenant& tenant, const ActionRow& row,
                                                    bool pre_approved) {
  const std::string t = row.full_type();
  if (t == "CONN") {
    CL_ASSIGN_OR_RETURN(auto ours,
                        store_.LatestByKey(tenant.tn_id, "CONN:" + tenant.id_tag + ":" + row.issuer));
    if (ours && ours->status != "D" && ours->sub_type.empty()) return std::string("A");  // mutual
    CL_ASSIGN_OR_RETURN(bool invited, InvitedToUs(tenant, row.issuer));
    if (invited) return std::string("A");
    CL_ASSIGN_OR_RETURN(std::string mode, Setting(tenant.tn_id, "profile.connection_mode"));
    if (mode == "\"A\"") return std::string("A");
    if (mode == "\"I\"") return std::string("D");
    return std::string("C");
  }
  if (t == "CONN:ACC") {
    CL_ASSIGN_OR_RETURN(auto ours,
                        store_.LatestByKey(tenant.tn_id, "CONN:" + tenant.id_tag + ":" + row.issuer));
    return std::string(ours && ours->sub_type.empty() ? "A" : "D");
  }
  if (t == "CONN:DEL") return std::string("N");
  if (row.type == "FLLW") {
    CL_ASSIGN_OR_RETURN(std::string allow, Setting(tenant.tn_id, "profile.allow_followers"));
    return std::string(allow == "false" ? "D" : "A");
  }
  if (row.type == "SUBS") return subs_.InboundSubsStatus(tenant.tn_id, tenant.id_tag, row, pre_approved);
  if (row.type == "INVT") return subs_.InboundInvtStatus(tenant.tn_id, tenant.id_tag, row);
  if ((row.type == "FSHR" || row.type == "PRINVT") && row.sub_type != "DEL") {
    return std::string("C");
  }
  return std::string("A");
}

absl::Status Pipeline::OnReceive(const Tenant& tenant, const ActionRow& row) {
  const std::string t = row.full_type();
  const std::string& iss = row.issuer;
  if (t == "CONN") {
    if (row.status == "A") {
      CL_ASSIGN_OR_RETURN(auto ours, store_.LatestByKey(tenant.tn_id, "CONN:" + tenant.id_tag + ":" + iss));
      bool mutual = ours && ours->status != "D" && ours->sub_type.empty();
      CL_RETURN_IF_ERROR(UpdateRelationship(tenant.tn_id, iss, true, true, true));
      if (mutual) LinkFormed(tenant, iss);
      if (!mutual) {  // connection_mode A or an invitation: answer with CONN:ACC
        // E11: the member an invitation into this community brought in.
        CL_ASSIGN_OR_RETURN(bool invited, InvitedToUs(tenant, iss));
        if (invited) {
          CL_RETURN_IF_ERROR(UpdateRelationship(tenant.tn_id, iss, true, true, true, "contributor"));
          CL_RETURN_IF_ERROR(subs_.RetireInvitations(tenant.tn_id, "@" + tenant.id_tag, iss));
        }
        CreateInput acc;
        acc.type = "CONN";
        acc.sub_type = "ACC";
        acc.audience = iss;
        CL_RETURN_IF_ERROR(Create(tenant, acc).status());
      }
      return absl::OkStatus();
    }
    if (row.status == "C") {
      CL_ASSIGN_OR_RETURN(std::string allow, Setting(tenant.tn_id, "profile.allow_followers"));
      if (allow != "false") return UpdateRelationship(tenant.tn_id, iss, std::nullopt, std::nullopt, true);
    }
    return absl::OkStatus();
  }
  if (t == "CONN:ACC" && row.status == "A") LinkFormed(tenant, iss);
  if (t == "CONN:ACC" && row.status == "A") return UpdateRelationship(tenant.tn_id, iss, true, true, true);
  if (t == "CONN:DEL") return UpdateRelationship(tenant.tn_id, iss, false, std::nullopt, std::nullopt);
  if (t == "FLLW" && row.status == "A")
    return UpdateRelationship(tenant.tn_id, iss, std::nullopt, std::nullopt, true);
  if (t == "FLLW:DEL") return UpdateRelationship(tenant.tn_id, iss, std::nullopt, std::nullopt, false);
  if (row.type == "REACT" && !row.subject.empty()) return UpdateCounters(tenant, row.subject);
  if (row.type == "CMNT" && !row.parent_id.empty()) return UpdateCounters(tenant, row.parent_id);
  if (row.type == "STAT") return ApplyStat(tenant, row);
  // §2.11 SUBS: a join through an invitation, or a leave, uses the invitation up.
  if (row.type == "SUBS" && row.status == "A" && row.sub_type != "UPD")
    return subs_.RetireInvitations(tenant.tn_id, row.subject, iss);
  return absl::OkStatus();
}

// §2.11 REACT and CMNT: only the authoritative owner (aud ?? iss of the target) counts,
// then announces the counters with a STAT (E24 item 1: all four keys).
absl::Status Pipeline::UpdateCounters(const Tenant& tenant, const std::string& target_id) {
  CL_ASSIGN_OR_RETURN(auto target, store_.Find(tenant.tn_id, target_id));
  if (!target) return absl::OkStatus();
  const std::string& owner = target->audience.empty() ? target->issuer : target->audience;
  if (owner != tenant.id_tag) return absl::OkStatus();
  // One count at a time per target (a REACT and a CMNT verified at once would count
  // concurrently), and each STAT gets a later iat than the one before: receivers keep
  // only a STAT newer than the last (E24 item 1), so the later, fuller count wins
  // whatever order the STATs arrive in. For an own action `stat_at` holds the iat of
  // the last STAT emitted.
  std::string reactions;
  int64_t comments = 0, comments_ts = 0, stat_iat = 0;
  CL_RETURN_IF_ERROR(store_.pool().Transact([&](db::Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(tx.Query("SELECT pg_advisory_xact_lock(hashtextextended($2, $1))",
                                {db::P(tenant.tn_id), db::P(target_id)})
                           .status());
    CL_ASSIGN_OR_RETURN(
        db::Result r,
        tx.Query(
            "WITH reacts AS (SELECT coalesce(sub_type, 'LIKE') AS st, count(*) AS n FROM actions "
            "  WHERE tn_id = $1 AND subject = $2 AND type = 'REACT' AND status = 'A' "
            "  AND coalesce(sub_type, '') <> 'DEL' GROUP BY 1), "
            "cmnts AS (SELECT count(*) AS n, coalesce(max(extract(epoch from created_at))::bigint, 0) AS ts "
            "  FROM actions WHERE tn_id = $1 AND parent_id = $2 AND type = 'CMNT' AND status = 'A' "
            "  AND coalesce(sub_type, '') <> 'DEL') "
            "SELECT (SELECT string_agg(st || ':' || n, ',' ORDER BY n DESC, st) FROM reacts), "
            "(SELECT n FROM cmnts), (SELECT ts FROM cmnts)",
            {db::P(tenant.tn_id), db::P(target_id)}));
    reactions = ReactionSummary(r.rows[0].Str(0));
    comments = r.rows[0].Int(1);
    comments_ts = r.rows[0].Int(2);
    CL_ASSIGN_OR_RETURN(
        db::Result u,
        tx.Query("UPDATE actions SET reactions = nullif($3, ''), comments = $4, comments_ts = $5, "
                 "stat_at = greatest(stat_at + 1, $6) WHERE tn_id = $1 AND action_id = $2 "
                 "RETURNING stat_at",
                 {db::P(tenant.tn_id), db::P(target_id), db::P(reactions), db::P(comments),
                  db::P(comments_ts), db::P(absl::ToUnixSeconds(clock_.Now()))}));
    if (u.empty()) return absl::NotFoundError("action gone");
    stat_iat = u.rows[0].Int(0);
    return absl::OkStatus();
  }));
  CreateInput stat;
  stat.type = "STAT";
  stat.parent_id = target_id;
  stat.iat = stat_iat;
  stat.content = json{{"r", reactions}, {"c", comments}, {"ct", comments_ts}, {"rp", target->reposts}};
  return Create(tenant, stat).status();
}

// E24 item 1: only the subject's owner's STAT, only when newer than the last applied.
absl::Status Pipeline::ApplyStat(const Tenant& tenant, const ActionRow& stat) {
  CL_ASSIGN_OR_RETURN(auto target, store_.Find(tenant.tn_id, stat.parent_id));
  if (!target) return absl::OkStatus();
  const std::string& owner = target->audience.empty() ? target->issuer : target->audience;
  if (owner != stat.issuer || owner == tenant.id_tag) return absl::OkStatus();
  json c = json::parse(stat.content, nullptr, false);
  if (!c.is_object()) return absl::OkStatus();
  std::string r = c.contains("r") && c["r"].is_string() ? c["r"].get<std::string>() : "";
  int64_t n = c.contains("c") && c["c"].is_number_integer() ? c["c"].get<int64_t>() : 0;
  int64_t ct = c.contains("ct") && c["ct"].is_number_integer() ? c["ct"].get<int64_t>() : 0;
  int64_t rp = c.contains("rp") && c["rp"].is_number_integer() ? c["rp"].get<int64_t>() : 0;
  return store_.pool()
      .Query(
          "UPDATE actions SET reactions = nullif($3, ''), comments = $4, comments_ts = $5, reposts = $6, "
          "stat_at = $7 WHERE tn_id = $1 AND action_id = $2 AND stat_at < $7",
          {db::P(tenant.tn_id), db::P(stat.parent_id), db::P(r), db::P(n), db::P(ct), db::P(rp),
           db::P(stat.created_at / 1000000)})
      .status();
}

// --- accept / reject ---------------------------------------------------------------

absl::StatusOr<ActionRow> Pipeline::Accept(const Tenant& tenant, const std::string& action_id) {
  CL_ASSIGN_OR_RETURN(auto row, store_.Find(tenant.tn_id, action_id));
  if (!row) return rpc::NotFoundError();
  if (row->status != "C" && row->status != "N") return *row;
  CL_RETURN_IF_ERROR(store_.SetStatus(tenant.tn_id, action_id, "A").status());
  row->status = "A";
  if (row->full_type() == "CONN") {
    CreateInput acc;
    acc.type = "CONN";
    acc.sub_type = "ACC";
    acc.audience = row->issuer;
    CL_RETURN_IF_ERROR(Create(tenant, acc).status());
  }
  // §2.11 INVT: joining is a SUBS to the CONV's home, or a CONN to the community.
  if (row->full_type() == "INVT" && row->audience == tenant.id_tag) {
    CreateInput join;
    if (IsIdentityRef(row->subject)) {
      join.type = "CONN";
      join.audience = row->subject.substr(1);
    } else {
      CL_ASSIGN_OR_RETURN(auto target, store_.Find(tenant.tn_id, row->subject));
      if (!target) return rpc::NotFoundError();
      join.type = "SUBS";
      join.audience = target->issuer;
      join.subject = target->action_id;
      // The role the inviter chose; the home checks it against the invitation.
      join.content = json{{"role", RoleName(RoleOf(*row))}};
    }
    CL_RETURN_IF_ERROR(Create(tenant, join).status());
  }
  const TypeDef* def = FindType(row->full_type());
  if (def && def->approvable && row->audience == tenant.id_tag) {
    CreateInput aprv;
    aprv.type = "APRV";
    aprv.audience = row->issuer;
    aprv.subject = row->action_id;
    aprv.visibility = "F";
    CL_RETURN_IF_ERROR(Create(tenant, aprv).status());
  }
  return *row;
}

absl::StatusOr<ActionRow> Pipeline::Reject(const Tenant& tenant, const std::string& action_id) {
  CL_ASSIGN_OR_RETURN(auto row, store_.Find(tenant.tn_id, action_id));
  if (!row) return rpc::NotFoundError();
  CL_RETURN_IF_ERROR(store_.SetStatus(tenant.tn_id, action_id, "D").status());
  row->status = "D";
  // E11 recommend: a rejected CONN also loses the follower flag its request set.
  if (row->full_type() == "CONN") {
    CL_RETURN_IF_ERROR(UpdateRelationship(tenant.tn_id, row->issuer, false, false, false));
  }
  return *row;
}

absl::StatusOr<std::string> Pipeline::ResignWithPow(const Tenant& tenant, const ActionRow& row,
                                                    int required) {
  cloudillo::v1::ActionClaims claims = ClaimsOf(row);
  CL_ASSIGN_OR_RETURN(std::string token, Sign(tenant.tn_id, claims, required));
  CL_RETURN_IF_ERROR(store_.ReplaceToken(tenant.tn_id, row.a_id, token, ActionIdOf(token)));
  return token;
}

void Pipeline::PublishBus(const Tenant& tenant, const ActionRow& row) {
  ojson msg;
  msg["cmd"] = "ACTION";
  msg["data"] = ActionView(row, {}, false);
  std::string channel = absl::StrCat("bus:", tenant.tn_id);
  if (current_bus_batch && &current_bus_batch->pipeline_ == this) {
    current_bus_batch->messages_.emplace_back(std::move(channel), msg.dump());
    return;
  }
  absl::Status st = redis_->Publish(channel, msg.dump());
  if (!st.ok()) LogWarn("bus_publish_failed", {{"error", std::string(st.message())}});
}

// --- batches -----------------------------------------------------------------------

void KnownActions::Absent(int64_t tn_id, std::string action_id) {
  known_.emplace(std::pair(tn_id, std::move(action_id)), std::nullopt);
}

void KnownActions::Present(int64_t tn_id, ActionRow row) {
  std::string id = row.action_id;
  known_.insert_or_assign(std::pair(tn_id, std::move(id)), std::optional<ActionRow>(std::move(row)));
}

std::optional<std::optional<ActionRow>> KnownActions::Take(int64_t tn_id, const std::string& action_id) {
  auto it = known_.find(std::pair(tn_id, action_id));
  if (it == known_.end()) return std::nullopt;
  std::optional<ActionRow> row = std::move(it->second);
  known_.erase(it);
  return row;
}

BusBatch::BusBatch(Pipeline& pipeline) : pipeline_(pipeline), outer_(current_bus_batch) {
  current_bus_batch = this;
}

BusBatch::~BusBatch() {
  Flush();
  current_bus_batch = outer_;
}

void BusBatch::Flush() {
  if (messages_.empty()) return;
  absl::Status st = pipeline_.redis_->PublishMany(messages_);
  if (!st.ok()) LogWarn("bus_publish_failed", {{"error", std::string(st.message())}});
  messages_.clear();
}

}  // namespace cloudillo::action
