// The pipeline's steps that pass an action on beyond its audience: subscriber fan-out
// and the owner's vouching APRV for children of a CONV (§2.5 items 5–6), the roster a
// joiner receives, and auto-approve (§2.8).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "pipeline.h"

namespace cloudillo::action {

absl::Status Pipeline::AddSubscribers(const Tenant& tenant, const ActionRow& row,
                                      std::vector<std::string>& out) {
  if (row.parent_id.empty()) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(auto container, subs_.Container(tenant.tn_id, row.parent_id));
  // Only the container's home holds the roster; elsewhere the child goes home by aud.
  if (!container || OwnerOf(*container) != tenant.id_tag) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(std::vector<std::string> members,
                      subs_.Subscribers(tenant.tn_id, container->action_id));
  for (std::string& m : members)
    if (m != tenant.id_tag && m != row.issuer) out.push_back(std::move(m));
  return absl::OkStatus();
}

absl::Status Pipeline::RelayChild(const Tenant& tenant, const ActionRow& row) {
  // Our own children go out by fan-out already, and an APRV of ours never vouches
  // for itself.
  if (row.issuer == tenant.id_tag) return absl::OkStatus();
  if (row.parent_id.empty() && !absl::StartsWith(row.subject, "a1~")) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(auto container, subs_.ContainerOf(tenant.tn_id, row));
  if (!container || !RelayChildren(container->type) || OwnerOf(*container) != tenant.id_tag)
    return absl::OkStatus();
  // No audience: the APRV's own fan-out reaches the members, with the child as its
  // related token (R3 and E19 on their side).
  CreateInput aprv;
  aprv.type = "APRV";
  aprv.subject = row.action_id;
  aprv.parent_id = container->action_id;
  aprv.visibility = "F";
  CL_RETURN_IF_ERROR(Create(tenant, aprv).status());
  if (row.full_type() == "SUBS") return BackfillRoster(tenant, *container, row.issuer);
  return absl::OkStatus();
}

absl::Status Pipeline::BackfillRoster(const Tenant& tenant, const ActionRow& container,
                                      const std::string& joiner) {
  CL_ASSIGN_OR_RETURN(std::vector<std::string> members, subs_.Subscribers(tenant.tn_id, container.action_id));
  for (const std::string& m : members) {
    if (m == joiner) continue;
    CL_ASSIGN_OR_RETURN(auto subs,
                        store_.LatestByKey(tenant.tn_id, absl::StrCat("SUBS:", container.action_id, ":", m)));
    if (!subs) continue;
    int64_t a_id = subs->a_id;
    std::vector<std::string> related;
    if (m != tenant.id_tag) {
      // Another member's SUBS reaches the joiner under our vouch for it, minted when
      // it joined (not minted again: every signature is a new action).
      CL_ASSIGN_OR_RETURN(db::Result r, store_.pool().Query("SELECT a_id FROM actions WHERE tn_id = $1 AND "
                                                            "type = 'APRV' AND subject = $2 AND issuer = $3 "
                                                            "ORDER BY a_id DESC LIMIT 1",
                                                            {db::P(tenant.tn_id), db::P(subs->action_id),
                                                             db::P(tenant.id_tag)}));
      if (r.empty()) continue;
      a_id = r.rows[0].Int(0);
      related.push_back(subs->token);
    }
    CL_RETURN_IF_ERROR(store_.pool().Transact(
        [&](db::Tx& tx) { return store_.EnqueueDeliveries(tx, tenant.tn_id, a_id, {joiner}, related); }));
  }
  return absl::OkStatus();
}

absl::Status Pipeline::AutoApprove(const Tenant& tenant, const ActionRow& row) {
  const TypeDef* def = FindType(row.full_type());
  // An APRV of a deletion would vouch for nothing.
  if (!def || !def->approvable || row.sub_type == "DEL") return absl::OkStatus();
  if (row.audience != tenant.id_tag || row.issuer == tenant.id_tag) return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(std::string enabled, Setting(tenant.tn_id, "profile.auto_approve_actions"));
  if (enabled != "true") return absl::OkStatus();
  CL_ASSIGN_OR_RETURN(auto rel, Relationship(tenant.tn_id, row.issuer));
  if (!rel.connected()) return absl::OkStatus();
  if (row.status != "A") CL_RETURN_IF_ERROR(store_.SetStatus(tenant.tn_id, row.action_id, "A").status());
  CreateInput aprv;
  aprv.type = "APRV";
  aprv.audience = row.issuer;
  aprv.subject = row.action_id;
  aprv.visibility = "F";
  absl::Status st = Create(tenant, aprv).status();
  // The reference logs and carries on: the inbound row is stored either way.
  if (!st.ok()) LogWarn("auto_approve_failed", {{"error", std::string(st.message())}});
  return absl::OkStatus();
}

}  // namespace cloudillo::action
