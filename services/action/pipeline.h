// The two ways an action enters a tenant (PROTOCOL §2.5–§2.11, Appendix E):
//
//   Create()   the tenant's own action from the client: rules of §2.9, visibility
//              (E10), signing by identity with the tenant's newest key, the row and its
//              deliveries in one transaction, then the type's on_create effects.
//   Receive()  a token from another node (the inbound queue or history sync): decode,
//              issuer key, signature, definition, fields, the audience rule of E13,
//              duplicates (E22), the permission and flag gates, visibility, the row
//              with its supersession, then the type's on_receive effects and the
//              related tokens of E19.
//
// Both publish the new action on the tenant's bus channel ("bus:<tn_id>", §7).
// Blocking (PostgreSQL, identity, remote key fetches): worker threads only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "action_store.h"
#include "action_view.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/federation/key_resolver.h"
#include "cloudillo/federation/proxy_exchange.h"
#include "cloudillo/v1/identity.grpc.pb.h"
#include "subscriptions.h"
#include "tenant_cache.h"

namespace cloudillo::action {

struct Tenant {
  int64_t tn_id = 0;
  std::string id_tag;
};

struct CreateInput {
  std::string type, sub_type, parent_id, audience, subject, visibility, flags;
  std::optional<nlohmann::json> content;
  std::vector<std::string> attachments;
  int64_t expires_at = 0;
  int64_t iat = 0;  // 0: now
};

// How a received token ended. Errors are Statuses: permanent ones (InvalidArgument,
// Unauthenticated, PermissionDenied, FailedPrecondition) end the inbound row;
// Unavailable and the rest are retried with backoff.
enum class Received { kStored, kDuplicate, kEphemeral, kRefused };

// What a caller already knows of the action ids it is about to Receive(): the inbox
// verifier looks up a whole lease's ids in one query (ActionStore::FindMany) instead of
// one each. Every entry answers once: a second copy of a token in the same lease finds
// nothing here and asks the store, which then holds the row the first copy stored.
class KnownActions {
 public:
  void Absent(int64_t tn_id, std::string action_id);
  void Present(int64_t tn_id, ActionRow row);
  // nullopt when not known (ask the store); else the row, or none stored.
  std::optional<std::optional<ActionRow>> Take(int64_t tn_id, const std::string& action_id);

 private:
  std::map<std::pair<int64_t, std::string>, std::optional<ActionRow>> known_;
};

class Pipeline;

// While alive, holds the bus messages of this thread's calls on `pipeline` (Receive,
// Create and their effects) and publishes them in one Redis round trip at Flush() or
// destruction, in the order they were made: the inbox verifier announces a lease at
// once instead of one PUBLISH per token. Only messages of rows already committed (or of
// ephemeral actions) reach a batch, as without one; the announcement alone waits.
class BusBatch {
 public:
  explicit BusBatch(Pipeline& pipeline);
  ~BusBatch();
  BusBatch(const BusBatch&) = delete;
  BusBatch& operator=(const BusBatch&) = delete;
  void Flush();
  size_t pending() const { return messages_.size(); }

 private:
  friend class Pipeline;
  Pipeline& pipeline_;
  BusBatch* outer_;
  std::vector<std::pair<std::string, std::string>> messages_;
};

class Pipeline {
 public:
  Pipeline(ActionStore& store, std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity,
           std::shared_ptr<federation::KeyResolver> keys, std::shared_ptr<cache::Redis> redis,
           const Clock& clock);

  // The all-in-one binary has its in-process channel only once every service is added.
  void ConnectIdentity(std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity) {
    identity_ = std::move(identity);
  }

  absl::StatusOr<ActionRow> Create(const Tenant& tenant, const CreateInput& in);
  // `lookups` (may be null): the caller's lookup of the token's action id, taken from it.
  // `durability` of the action row's commit: kReplayable only for a caller whose
  // durable queue row redoes the token until it deletes that row (the inbox verifier).
  absl::StatusOr<Received> Receive(const Tenant& tenant, const std::string& token,
                                   const std::vector<std::string>& related, bool pre_approved,
                                   KnownActions* lookups = nullptr,
                                   Durability durability = Durability::kFlushed);

  // Accept/reject of a confirm-type action (§2.11: CONN sends CONN:ACC; FSHR, INVT rest).
  absl::StatusOr<ActionRow> Accept(const Tenant& tenant, const std::string& action_id);
  absl::StatusOr<ActionRow> Reject(const Tenant& tenant, const std::string& action_id);

  // Settings and relationships are read through `cache` (tenant_cache.h) when set;
  // set before any call, may stay unset (every lookup asks identity).
  void UseCache(TenantCache* cache) { cache_ = cache; }

  // Identity lookups shared with the REST handlers.
  absl::StatusOr<ProfileIndex> Profiles(int64_t tn_id, std::vector<std::string> id_tags);
  // Re-signs a row's token with a proof-of-work suffix of `required` 'A's (E3).
  absl::StatusOr<std::string> ResignWithPow(const Tenant& tenant, const ActionRow& row, int required);
  // Signs claims with the tenant's newest key (identity SignAction); also used for the
  // outbox's STATs and history sync's PROXY tokens.
  absl::StatusOr<std::string> Sign(int64_t tn_id, const cloudillo::v1::ActionClaims& claims, int pow);
  // PROXY tokens for the cross-node exchange (E6): history sync, attachments.
  federation::ProxyExchange::Signer ProxySigner();
  // Told when a link with `peer` forms (CONN:ACC either way, a mutual CONN), so history
  // sync can pull the peer's outbox (history_sync.h, E9).
  // The conversation rules (tests and the REST handlers read the roster).
  Subscriptions& subscriptions() { return subs_; }
  void OnLinkFormed(std::function<void(const Tenant&, const std::string& peer)> fn) {
    link_formed_ = std::move(fn);
  }
  // Told of an ephemeral action created here (PRES) and its recipients: §13.8 delivers
  // presence to remote audiences, best effort and never stored, where the reference
  // drops it (its outbox reads a row that an ephemeral action does not have).
  using EphemeralSend = std::function<void(const Tenant&, const std::vector<std::string>& recipients,
                                           const std::string& token)>;
  void OnEphemeral(EphemeralSend fn) { ephemeral_ = std::move(fn); }
  // Fetches an inbound action's attachments from `source` before the action is stored,
  // each new copy of the action's token visibility `v` (attachments.h); unset,
  // attachments stay references to the other node.
  using AttachmentFetch =
      std::function<absl::Status(const Tenant&, const std::string& source,
                                 const std::vector<std::string>& file_ids, const std::string& visibility)>;
  void FetchAttachmentsWith(AttachmentFetch fn) { fetch_attachments_ = std::move(fn); }
  // Opens the files a tenant's new action attaches to the action's visibility before the
  // action is delivered (attachments.h); unset, the files keep theirs.
  using AttachmentRaise = std::function<absl::Status(const Tenant&, const std::vector<std::string>& file_ids,
                                                     const std::string& visibility)>;
  void RaiseAttachmentsWith(AttachmentRaise fn) { raise_attachments_ = std::move(fn); }

 private:
  void LinkFormed(const Tenant& tenant, const std::string& peer) {
    if (link_formed_) link_formed_(tenant, peer);
  }
  absl::StatusOr<cloudillo::v1::Relationship> Relationship(int64_t tn_id, const std::string& id_tag);
  absl::Status UpdateRelationship(int64_t tn_id, const std::string& id_tag, std::optional<bool> connected,
                                  std::optional<bool> following, std::optional<bool> follower,
                                  std::optional<std::string> roles = std::nullopt);
  absl::StatusOr<std::string> Setting(int64_t tn_id, const std::string& key);
  absl::StatusOr<std::vector<std::string>> Followers(int64_t tn_id);

  struct Delivery {
    std::vector<std::string> recipients;
    std::vector<std::string> related;  // tokens sent along (deliver_subject)
  };
  absl::StatusOr<Delivery> Recipients(const Tenant& tenant, const TypeDef& def, const ActionRow& row);
  // §2.5 item 5: members of a container we own, for a child of it.
  absl::Status AddSubscribers(const Tenant& tenant, const ActionRow& row, std::vector<std::string>& out);
  absl::Status OnCreate(const Tenant& tenant, const ActionRow& row);
  // Decides the status of an inbound row before it is stored (CONN handshake, FLLW,
  // SUBS, INVT).
  absl::StatusOr<std::string> InboundStatus(const Tenant& tenant, const ActionRow& row, bool pre_approved);
  // Receive() in three steps, so a ReceiveBatch can store many rows in one statement.
  struct Decided {
    Received outcome = Received::kStored;  // kStored: `row` is yet to be stored
    ActionRow row;                         // kDuplicate: the row stored before
    std::string action_id, sub;            // what E19 matches related tokens against
  };
  // Everything up to the row: signature, gates, visibility, status. Stores nothing
  // (an ephemeral action is published at once).
  // `action_id` is ActionIdOf(token), which the caller has already worked out.
  absl::StatusOr<Decided> Decide(const Tenant& tenant, const std::string& token, const Claims& c,
                                 const std::string& action_id, bool pre_approved, KnownActions* lookups);
  // The rest of Receive() for a decided token: the row's commit, AfterStored, E19.
  absl::StatusOr<Received> StoreDecided(const Tenant& tenant, Decided& d,
                                        const std::vector<std::string>& related, Durability durability);
  // What follows a committed row: on_receive effects, relay, auto-approve, the bus.
  absl::Status AfterStored(const Tenant& tenant, ActionRow& row);
  // Whether a decided row may wait in a ReceiveBatch: it has no effects after its
  // insert and supersedes nothing, so rows after it cannot read a difference.
  static bool EffectFree(const Tenant& tenant, const ActionRow& row);
  void ReceiveRelated(const Tenant& tenant, const Decided& d, const std::vector<std::string>& related);
  absl::Status OnReceive(const Tenant& tenant, const ActionRow& row);
  absl::StatusOr<bool> InvitedToUs(const Tenant& tenant, const std::string& id_tag);
  // §2.5 item 5: the owner of a relay_children container vouches for an accepted
  // child from another tenant with an APRV that carries it to every member.
  absl::Status RelayChild(const Tenant& tenant, const ActionRow& row);
  // A joiner learns the members that were there before it.
  absl::Status BackfillRoster(const Tenant& tenant, const ActionRow& container, const std::string& joiner);
  // §2.8 "Auto-approve".
  absl::Status AutoApprove(const Tenant& tenant, const ActionRow& row);
  // The owner's counters for a REACT or CMNT on its action, then a STAT to followers.
  absl::Status UpdateCounters(const Tenant& tenant, const std::string& target_id);
  absl::Status ApplyStat(const Tenant& tenant, const ActionRow& stat);
  void PublishBus(const Tenant& tenant, const ActionRow& row);
  friend class BusBatch;
  friend class ReceiveBatch;

  ActionStore& store_;
  Subscriptions subs_;
  std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity_;
  std::shared_ptr<federation::KeyResolver> keys_;
  std::shared_ptr<cache::Redis> redis_;
  const Clock& clock_;
  std::function<void(const Tenant&, const std::string&)> link_formed_;
  EphemeralSend ephemeral_;
  AttachmentFetch fetch_attachments_;
  AttachmentRaise raise_attachments_;
  TenantCache* cache_ = nullptr;
};

}  // namespace cloudillo::action
