// Conversations and their members (PROTOCOL §2.4 behaviour flags, §2.5 items 4–6,
// §2.8 step 5 R3 and step 6, §2.11 MSG/CONV/SUBS/INVT). A CONV is a container: the
// tenant that owns it (aud ?? iss) holds the roster, which is the active SUBS rows
// whose subject is the CONV, and passes every accepted child on to the members.
// Blocking (PostgreSQL): worker threads only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "action_store.h"

namespace cloudillo::action {

// The §2.4 behaviour flags TypeDef does not carry, by base type.
bool RequiresSubscription(std::string_view base);   // MSG
bool Subscribable(std::string_view base);           // CONV
bool RelayChildren(std::string_view base);          // CONV
bool DeliverSubject(std::string_view base);         // APRV, REPOST, INVT
bool DeliverToSubjectOwner(std::string_view base);  // REPOST, INVT
// Flags a new action gets when the client sends none ("" for most types).
std::string_view DefaultFlags(std::string_view base);

enum class SubsRole { kObserver = 0, kMember = 1, kModerator = 2, kAdmin = 3 };
// The role a SUBS grants: `role` of its content, member when absent. The reference
// reads a server-side `x.role` first, which never travels in a token, so on a
// receiving node the content is all there is.
SubsRole RoleOf(const ActionRow& subs);
// The same for a token's content (a SUBS's or an INVT's `role`), member when absent.
SubsRole RoleNamedIn(const std::optional<nlohmann::json>& content);
const char* RoleName(SubsRole role);
// The least role that may issue `base[:sub_type]` under a container (reference
// SubscriptionRole::required_for_action).
SubsRole RequiredRole(std::string_view base, std::string_view sub_type);
// The authoritative owner of an action: its audience, else its issuer.
const std::string& OwnerOf(const ActionRow& row);
// "@<id_tag>" subjects name an identity (a community INVT), not an action.
bool IsIdentityRef(std::string_view subject);

class Subscriptions {
 public:
  explicit Subscriptions(ActionStore& store) : store_(store) {}

  // §2.8 step 6 and its outbound twin (§2.9): `issuer` may add a `base[:sub_type]`
  // under the held action `target_id` when it created the target or holds an active
  // SUBS of a sufficient role on the target or the target's root. NotFound when the
  // target is not held (the inbound queue retries: the CONV may still be on its
  // way), PermissionDenied otherwise.
  absl::Status CheckGate(int64_t tn_id, const std::string& issuer, std::string_view base,
                         std::string_view sub_type, const std::string& target_id);

  // The highest role a SUBS or INVT of `issuer` may name on `target_id`: no member
  // promotes itself. The target's creator may name any; a join what its active
  // invitation names (member without one); an update or an invitation no more than
  // the issuer holds (observer without a membership). NotFound when the target is not held.
  absl::StatusOr<SubsRole> RoleCeiling(int64_t tn_id, const std::string& issuer, std::string_view base,
                                       std::string_view sub_type, const std::string& target_id);

  // The first subscribable action up the parent chain from `start_id`, if held.
  absl::StatusOr<std::optional<ActionRow>> Container(int64_t tn_id, const std::string& start_id);
  // A child's container: through its parent, else through an action subject (SUBS).
  absl::StatusOr<std::optional<ActionRow>> ContainerOf(int64_t tn_id, const ActionRow& child);
  // Issuers of the active SUBS on `container_id`, sorted.
  absl::StatusOr<std::vector<std::string>> Subscribers(int64_t tn_id, const std::string& container_id);

  // §2.11 SUBS on receipt, before the row is stored: "A" or "D".
  absl::StatusOr<std::string> InboundSubsStatus(int64_t tn_id, const std::string& tenant_id_tag,
                                                const ActionRow& subs, bool pre_approved);
  // §2.11 INVT on receipt: "A" at the subject's home (kept for SUBS validation),
  // "C" at the invitee's.
  absl::StatusOr<std::string> InboundInvtStatus(int64_t tn_id, const std::string& tenant_id_tag,
                                                const ActionRow& invt);
  // A consumed or void invitation (join accepted, member left) stops counting.
  absl::Status RetireInvitations(int64_t tn_id, const std::string& subject_id, const std::string& invitee);

 private:
  absl::StatusOr<std::optional<ActionRow>> ActiveSubs(int64_t tn_id, const std::string& target_id,
                                                      const std::string& issuer);

  ActionStore& store_;
};

}  // namespace cloudillo::action
