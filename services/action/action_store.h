// The action service's SQL (migrations/V001__action.sql): actions, the outbox of
// deliveries and the inbound queue. Every statement filters by tn_id.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "action_types.h"
#include "cloudillo/db/pool.h"
#include "inbound_batcher.h"
#include "tx_batcher.h"

namespace cloudillo::action {

struct ActionRow {
  int64_t a_id = 0;
  std::string action_id, type, sub_type, issuer, audience, parent_id, root_id, subject;
  std::string content;  // JSON text, "" when absent
  std::vector<std::string> attachments;
  std::string visibility = "D", flags, status, key, token;
  int64_t created_at = 0, received_at = 0, expires_at = 0;
  bool outbound = false;
  std::string reactions;
  int64_t comments = 0, comments_ts = 0, reposts = 0, stat_at = 0;

  std::string full_type() const { return sub_type.empty() ? type : type + ":" + sub_type; }
};

// A row for a token: its fields from the claims, status and visibility decided by the caller.
ActionRow RowFromClaims(const Claims& c, const std::string& token, const std::string& action_id);

// Who reads a listing (visibility, PROTOCOL §2.6, §13.17).
struct Viewer {
  bool owner = false;  // the tenant itself
  std::string id_tag;  // authenticated caller ("" for guests)
  bool follower = false, connected = false;
};

struct ListQuery {
  std::vector<std::string> types, statuses;
  std::string issuer, audience, involved, action_id, parent_id, root_id, subject;
  std::optional<int64_t> created_after, created_before;
  bool exclude_own_issuer = false;
  bool sort_received = false, ascending = false;
  std::optional<std::pair<int64_t, int64_t>> cursor;  // (sort time µs, a_id) of the last item
  int limit = 20;
};

class ActionStore {
 public:
  explicit ActionStore(std::shared_ptr<db::Pool> pool) : pool_(std::move(pool)) {}

  // Inserts a row, setting every older row with the same key to 'D' (§2.7). Returns the
  // row's a_id; an existing action_id is AlreadyExists, and then nothing was written
  // (the insert comes first), so it may run under CommitAtomic.
  absl::StatusOr<int64_t> Insert(db::Tx& tx, int64_t tn_id, const ActionRow& row);
  // Inserts (tn_id, row) pairs in one statement, none of them with a key (there is no
  // supersession here). Answers each pair's a_id, or 0 for an action id already stored
  // (or repeated earlier in `rows`). A failure has written nothing.
  absl::StatusOr<std::vector<int64_t>> InsertMany(
      db::Tx& tx, const std::vector<std::pair<int64_t, const ActionRow*>>& rows);
  absl::StatusOr<std::optional<ActionRow>> Find(int64_t tn_id, const std::string& action_id);
  absl::StatusOr<std::optional<ActionRow>> FindInTx(db::Tx& tx, int64_t tn_id, const std::string& action_id);
  // The rows of many (tn_id, action_id) pairs in one query, each with its tn_id; pairs
  // without a row are absent from the result, repeated pairs are answered once.
  absl::StatusOr<std::vector<std::pair<int64_t, ActionRow>>> FindMany(
      const std::vector<std::pair<int64_t, std::string>>& ids);
  // The newest row with this key not at D (superseded, deleted or refused on receipt).
  absl::StatusOr<std::optional<ActionRow>> LatestByKey(int64_t tn_id, const std::string& key);
  absl::StatusOr<std::vector<ActionRow>> List(int64_t tn_id, const std::string& tenant_id_tag,
                                              const ListQuery& q, const Viewer& viewer);
  absl::StatusOr<bool> SetStatus(int64_t tn_id, const std::string& action_id, const std::string& status);
  // Replaces a row's token and id after a re-signing (proof of work, E3).
  absl::Status ReplaceToken(int64_t tn_id, int64_t a_id, const std::string& token,
                            const std::string& action_id);

  // The outbox: one row per recipient.
  absl::Status EnqueueDeliveries(db::Tx& tx, int64_t tn_id, int64_t a_id,
                                 const std::vector<std::string>& recipients,
                                 const std::vector<std::string>& related);
  // The inbound queue (committed before /api/inbox answers 201): many queued tokens in
  // one statement, so one commit (group commit, inbound_batcher.h).
  // The rows' in_ids in the items' order. `held` > 0 leases the new rows to the caller
  // for that long (next_at), so no poller claims a row its writer verifies from memory.
  absl::StatusOr<std::vector<int64_t>> EnqueueInboundBatch(const std::vector<InboundItem>& items,
                                                           absl::Duration held = absl::ZeroDuration());
  // Ends decided rows of the inbound queue, (tn_id, in_id) pairs, in one statement.
  absl::Status DeleteInbound(const std::vector<std::pair<int64_t, int64_t>>& rows,
                             Durability durability = Durability::kFlushed);
  // Ends this process's lease of these rows: they are due at once.
  absl::Status ReleaseInbound(const std::vector<std::pair<int64_t, int64_t>>& rows);

  // Runs `body` in a transaction, grouped with concurrent callers' bodies into one
  // commit once BatchCommits() was given a batcher (tx_batcher.h); Pool::Transact else.
  absl::Status Commit(const std::function<absl::Status(db::Tx&)>& body);
  // The same for a body that has written nothing when it returns an error (TxBatcher::RunAtomic).
  absl::Status CommitAtomic(const std::function<absl::Status(db::Tx&)>& body,
                            Durability durability = Durability::kFlushed);
  void BatchCommits(TxBatcher* batcher) { batcher_ = batcher; }

  db::Pool& pool() { return *pool_; }
  std::shared_ptr<db::Pool> shared_pool() { return pool_; }

  static constexpr const char* kColumns =
      "a_id, action_id, type, coalesce(sub_type, ''), issuer, coalesce(audience, ''), coalesce(parent_id, "
      "''), "
      "coalesce(root_id, ''), coalesce(subject, ''), coalesce(content, ''), coalesce(attachments, '{}'), "
      "visibility, coalesce(flags, ''), status, coalesce(key, ''), token, "
      "(extract(epoch from created_at) * 1000000)::bigint, (extract(epoch from received_at) * "
      "1000000)::bigint, "
      "coalesce(extract(epoch from expires_at)::bigint, 0), outbound, coalesce(reactions, ''), comments, "
      "comments_ts, reposts, stat_at";
  static constexpr int kColumnCount = 25;  // of kColumns; a query's own columns follow
  static ActionRow FromRow(const db::Row& r);

 private:
  std::shared_ptr<db::Pool> pool_;
  TxBatcher* batcher_ = nullptr;
};

// Parses a PostgreSQL text[] literal as returned by libpq ({a,"b c"}).
std::vector<std::string> ParseTextArray(const std::string& literal);

}  // namespace cloudillo::action
