#include "subscriptions.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::action {
namespace {

// Parent chains come from peers' tokens; a bound keeps a crafted chain from walking
// the table.
constexpr int kMaxChainDepth = 32;

bool IsActive(const std::optional<ActionRow>& row) {
  return row && row->status == "A" && row->sub_type != "DEL";
}

}  // namespace

bool RequiresSubscription(std::string_view base) { return base == "MSG"; }
bool Subscribable(std::string_view base) { return base == "CONV"; }
bool RelayChildren(std::string_view base) { return base == "CONV"; }
bool DeliverSubject(std::string_view base) { return base == "APRV" || base == "REPOST" || base == "INVT"; }
bool DeliverToSubjectOwner(std::string_view base) { return base == "REPOST" || base == "INVT"; }
std::string_view DefaultFlags(std::string_view base) { return base == "CONV" ? "rco" : ""; }

SubsRole RoleNamedIn(const std::optional<nlohmann::json>& c) {
  if (!c || !c->is_object() || !c->contains("role") || !(*c)["role"].is_string()) return SubsRole::kMember;
  const std::string& r = (*c)["role"].get_ref<const std::string&>();
  if (r == "admin") return SubsRole::kAdmin;
  if (r == "moderator") return SubsRole::kModerator;
  if (r == "observer") return SubsRole::kObserver;
  return SubsRole::kMember;
}

SubsRole RoleOf(const ActionRow& subs) {
  nlohmann::json c = nlohmann::json::parse(subs.content, nullptr, false);
  return RoleNamedIn(c.is_discarded() ? std::nullopt : std::optional<nlohmann::json>(std::move(c)));
}

const char* RoleName(SubsRole role) {
  switch (role) {
    case SubsRole::kObserver:
      return "observer";
    case SubsRole::kMember:
      return "member";
    case SubsRole::kModerator:
      return "moderator";
    case SubsRole::kAdmin:
      return "admin";
  }
  return "member";
}

SubsRole RequiredRole(std::string_view base, std::string_view sub_type) {
  if ((base == "SUBS" || base == "CONV") && sub_type == "UPD") return SubsRole::kAdmin;
  if ((base == "SUBS" && sub_type == "DEL") || base == "INVT") return SubsRole::kModerator;
  if (base == "SUBS" && sub_type.empty()) return SubsRole::kObserver;
  return SubsRole::kMember;
}

const std::string& OwnerOf(const ActionRow& row) { return row.audience.empty() ? row.issuer : row.audience; }

bool IsIdentityRef(std::string_view subject) { return subject.size() > 1 && subject[0] == '@'; }

absl::StatusOr<std::optional<ActionRow>> Subscriptions::ActiveSubs(int64_t tn_id,
                                                                   const std::string& target_id,
                                                                   const std::string& issuer) {
  CL_ASSIGN_OR_RETURN(auto row, store_.LatestByKey(tn_id, absl::StrCat("SUBS:", target_id, ":", issuer)));
  if (!IsActive(row)) return std::optional<ActionRow>();
  return row;
}

absl::Status Subscriptions::CheckGate(int64_t tn_id, const std::string& issuer, std::string_view base,
                                      std::string_view sub_type, const std::string& target_id) {
  CL_ASSIGN_OR_RETURN(auto target, store_.Find(tn_id, target_id));
  if (!target) return absl::NotFoundError("subscription target not held");
  if (target->issuer == issuer) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(auto subs, ActiveSubs(tn_id, target_id, issuer));
  if (!subs && !target->root_id.empty()) {
    CL_ASSIGN_OR_RETURN(subs, ActiveSubs(tn_id, target->root_id, issuer));
  }
  if (!subs) return absl::PermissionDeniedError("no active subscription");
  if (RoleOf(*subs) < RequiredRole(base, sub_type))
    return absl::PermissionDeniedError("subscription role too low");
  return absl::OkStatus();
}

absl::StatusOr<SubsRole> Subscriptions::RoleCeiling(int64_t tn_id, const std::string& issuer,
                                                    std::string_view base, std::string_view sub_type,
                                                    const std::string& target_id) {
  CL_ASSIGN_OR_RETURN(auto target, store_.Find(tn_id, target_id));
  if (!target) return absl::NotFoundError("subscription target not held");
  if (target->issuer == issuer) return SubsRole::kAdmin;
  if (base == "SUBS" && sub_type.empty()) {
    CL_ASSIGN_OR_RETURN(auto invt, store_.LatestByKey(tn_id, absl::StrCat("INVT:", target_id, ":", issuer)));
    return IsActive(invt) ? RoleOf(*invt) : SubsRole::kMember;
  }
  CL_ASSIGN_OR_RETURN(auto subs, ActiveSubs(tn_id, target_id, issuer));
  return subs ? RoleOf(*subs) : SubsRole::kObserver;
}

absl::StatusOr<std::optional<ActionRow>> Subscriptions::Container(int64_t tn_id,
                                                                  const std::string& start_id) {
  std::string id = start_id;
  for (int depth = 0; depth < kMaxChainDepth && !id.empty(); ++depth) {
    CL_ASSIGN_OR_RETURN(auto row, store_.Find(tn_id, id));
    if (!row) break;
    if (Subscribable(row->type)) return row;
    id = row->parent_id;
  }
  return std::optional<ActionRow>();
}

absl::StatusOr<std::optional<ActionRow>> Subscriptions::ContainerOf(int64_t tn_id, const ActionRow& child) {
  if (!child.parent_id.empty()) {
    CL_ASSIGN_OR_RETURN(auto c, Container(tn_id, child.parent_id));
    if (c) return c;
  }
  if (absl::StartsWith(child.subject, "a1~")) return Container(tn_id, child.subject);
  return std::optional<ActionRow>();
}

absl::StatusOr<std::vector<std::string>> Subscriptions::Subscribers(int64_t tn_id,
                                                                    const std::string& container_id) {
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      store_.pool().Query("SELECT DISTINCT issuer FROM actions WHERE tn_id = $1 AND type = 'SUBS' "
                          "AND subject = $2 AND status = 'A' AND coalesce(sub_type, '') <> 'DEL' ORDER BY 1",
                          {db::P(tn_id), db::P(container_id)}));
  std::vector<std::string> out;
  for (const auto& row : r.rows) out.push_back(row.Str(0));
  return out;
}

absl::StatusOr<std::string> Subscriptions::InboundSubsStatus(int64_t tn_id, const std::string& tenant_id_tag,
                                                             const ActionRow& subs, bool pre_approved) {
  CL_ASSIGN_OR_RETURN(auto target, store_.Find(tn_id, subs.subject));
  // A member's copy of a roster SUBS arrives vouched by the owner (an APRV's related
  // token); whoever we are, the owner already decided.
  if (pre_approved) return std::string("A");
  if (!target) return std::string("D");
  if (subs.sub_type == "DEL") return std::string("A");  // anyone may leave
  if (subs.sub_type == "UPD") {
    // An update never revives a rejected or ended membership, nor raises its own role.
    CL_ASSIGN_OR_RETURN(auto existing, ActiveSubs(tn_id, subs.subject, subs.issuer));
    if (!existing) return std::string("D");
    CL_ASSIGN_OR_RETURN(SubsRole ceiling, RoleCeiling(tn_id, subs.issuer, "SUBS", "UPD", subs.subject));
    return std::string(RoleOf(subs) <= ceiling ? "A" : "D");
  }
  if (!subs.sub_type.empty()) return std::string("A");
  // Only the container's home decides a join; elsewhere a stray SUBS is not news.
  if (OwnerOf(*target) != tenant_id_tag && target->issuer != subs.issuer) return std::string("D");
  // A join names at most what its invitation grants, open group or not.
  CL_ASSIGN_OR_RETURN(SubsRole ceiling, RoleCeiling(tn_id, subs.issuer, "SUBS", "", subs.subject));
  if (RoleOf(subs) > ceiling) return std::string("D");
  if (target->flags.find('O') != std::string::npos) return std::string("A");
  CL_ASSIGN_OR_RETURN(auto invt,
                      store_.LatestByKey(tn_id, absl::StrCat("INVT:", subs.subject, ":", subs.issuer)));
  if (IsActive(invt)) return std::string("A");
  if (target->issuer == subs.issuer) return std::string("A");
  return std::string("D");
}

absl::StatusOr<std::string> Subscriptions::InboundInvtStatus(int64_t tn_id, const std::string& tenant_id_tag,
                                                             const ActionRow& invt) {
  if (!invt.sub_type.empty()) return std::string("A");
  if (IsIdentityRef(invt.subject)) return std::string(invt.subject.substr(1) == tenant_id_tag ? "A" : "C");
  CL_ASSIGN_OR_RETURN(auto target, store_.Find(tn_id, invt.subject));
  if (!target || target->issuer != tenant_id_tag) return std::string("C");
  // At the home an INVT admits its invitee's SUBS, so it counts only from someone who
  // may invite (the sender's node checks this too, but a peer's node is not ours).
  absl::Status may = CheckGate(tn_id, invt.issuer, "INVT", "", invt.subject);
  if (absl::IsPermissionDenied(may)) return std::string("D");
  CL_RETURN_IF_ERROR(may);
  CL_ASSIGN_OR_RETURN(SubsRole ceiling, RoleCeiling(tn_id, invt.issuer, "INVT", "", invt.subject));
  if (RoleOf(invt) > ceiling) return std::string("D");
  return std::string("A");
}

absl::Status Subscriptions::RetireInvitations(int64_t tn_id, const std::string& subject_id,
                                              const std::string& invitee) {
  return store_.pool()
      .Query(
          "UPDATE actions SET status = 'D' WHERE tn_id = $1 AND type = 'INVT' AND subject = $2 "
          "AND audience = $3 AND status = 'A' AND coalesce(sub_type, '') <> 'DEL'",
          {db::P(tn_id), db::P(subject_id), db::P(invitee)})
      .status();
}

}  // namespace cloudillo::action
