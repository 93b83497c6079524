#include "action_store.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/db/sql_text.h"

namespace cloudillo::action {
namespace {

db::Param OptText(const std::string& s) { return s.empty() ? db::Null() : db::P(s); }

// Builds "$n" placeholders while collecting their values.
class Params {
 public:
  std::string Add(db::Param p) {
    values_.push_back(std::move(p));
    return absl::StrCat("$", values_.size());
  }
  const std::vector<db::Param>& values() const { return values_; }

 private:
  std::vector<db::Param> values_;
};

}  // namespace

std::vector<std::string> ParseTextArray(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return out;
  size_t i = 1, end = s.size() - 1;
  while (i < end) {
    std::string item;
    if (s[i] == '"') {
      for (++i; i < end && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < end) ++i;
        item += s[i];
      }
      ++i;  // closing quote
    } else {
      while (i < end && s[i] != ',') item += s[i++];
    }
    out.push_back(std::move(item));
    if (i < end && s[i] == ',') ++i;
  }
  return out;
}

ActionRow RowFromClaims(const Claims& c, const std::string& token, const std::string& action_id) {
  ActionRow row;
  row.action_id = action_id;
  row.type = c.base_type();
  row.sub_type = c.sub_type();
  row.issuer = c.iss;
  row.audience = c.aud;
  row.parent_id = c.p;
  row.subject = c.sub;
  if (c.c) row.content = c.c->dump();
  row.attachments = c.a;
  row.flags = c.f;
  row.token = token;
  row.created_at = c.iat * 1000000;
  row.expires_at = c.exp;
  return row;
}

ActionRow ActionStore::FromRow(const db::Row& r) {
  ActionRow a;
  a.a_id = r.Int(0);
  a.action_id = r.Str(1);
  a.type = r.Str(2);
  a.sub_type = r.Str(3);
  a.issuer = r.Str(4);
  a.audience = r.Str(5);
  a.parent_id = r.Str(6);
  a.root_id = r.Str(7);
  a.subject = r.Str(8);
  a.content = r.Str(9);
  a.attachments = ParseTextArray(r.Str(10));
  a.visibility = r.Str(11);
  a.flags = r.Str(12);
  a.status = r.Str(13);
  a.key = r.Str(14);
  a.token = r.Str(15);
  a.created_at = r.Int(16);
  a.received_at = r.Int(17);
  a.expires_at = r.Int(18);
  a.outbound = r.Bool(19);
  a.reactions = r.Str(20);
  a.comments = r.Int(21);
  a.comments_ts = r.Int(22);
  a.reposts = r.Int(23);
  a.stat_at = r.Int(24);
  return a;
}

namespace {

constexpr const char* kInsertColumns =
    "INSERT INTO actions (tn_id, action_id, type, sub_type, issuer, audience, parent_id, root_id, subject, "
    "content, attachments, visibility, flags, status, key, token, created_at, expires_at, outbound) VALUES ";

// One row's parenthesised VALUES entry, its values added to `p`.
std::string ActionValues(Params& p, int64_t tn_id, const ActionRow& row) {
  return absl::StrCat(
      "(", p.Add(db::P(tn_id)), ", ", p.Add(db::P(row.action_id)), ", ", p.Add(db::P(row.type)), ", ",
      p.Add(OptText(row.sub_type)), ", ", p.Add(db::P(row.issuer)), ", ", p.Add(OptText(row.audience)), ", ",
      p.Add(OptText(row.parent_id)), ", ", p.Add(OptText(row.root_id)), ", ", p.Add(OptText(row.subject)),
      ", ", p.Add(OptText(row.content)), ", ", p.Add(db::P(db::TextArrayLiteral(row.attachments))),
      "::text[], ", p.Add(db::P(row.visibility)), ", ", p.Add(OptText(row.flags)), ", ",
      p.Add(db::P(row.status)), ", ", p.Add(OptText(row.key)), ", ", p.Add(db::P(row.token)),
      ", to_timestamp(", p.Add(db::P(row.created_at)), "::double precision / 1000000), CASE WHEN ",
      p.Add(db::P(row.expires_at)), "::bigint = 0 THEN NULL ELSE to_timestamp(", p.Add(db::P(row.expires_at)),
      "::bigint) END, ", p.Add(db::P(row.outbound)), ")");
}

}  // namespace

absl::StatusOr<int64_t> ActionStore::Insert(db::Tx& tx, int64_t tn_id, const ActionRow& row) {
  Params p;
  std::string sql = absl::StrCat(kInsertColumns, ActionValues(p, tn_id, row),
                                 " ON CONFLICT (tn_id, action_id) DO NOTHING RETURNING a_id");
  CL_ASSIGN_OR_RETURN(db::Result r, tx.Query(sql, p.values()));
  if (r.empty()) return absl::AlreadyExistsError("action exists");
  int64_t a_id = r.rows[0].Int(0);
  // A row refused on receipt (stored at D) retires nothing: a member's own bad update
  // must not end the membership it failed to change.
  if (!row.key.empty() && row.status != "D") {
    CL_RETURN_IF_ERROR(tx.Query("UPDATE actions SET status = 'D' WHERE tn_id = $1 AND key = $2 AND "
                                "status <> 'D' AND a_id <> $3",
                                {db::P(tn_id), db::P(row.key), db::P(a_id)})
                           .status());
  }
  return a_id;
}

absl::StatusOr<std::vector<int64_t>> ActionStore::InsertMany(
    db::Tx& tx, const std::vector<std::pair<int64_t, const ActionRow*>>& rows) {
  std::vector<int64_t> a_ids(rows.size(), 0);
  if (rows.empty()) return a_ids;
  Params p;
  std::string sql = kInsertColumns;
  for (size_t i = 0; i < rows.size(); ++i) {
    // Supersession in one statement would let an earlier row of a key retire a later one.
    if (!rows[i].second->key.empty())
      return absl::InvalidArgumentError("InsertMany takes rows without a key");
    absl::StrAppend(&sql, i ? ", " : "", ActionValues(p, rows[i].first, *rows[i].second));
  }
  sql += " ON CONFLICT (tn_id, action_id) DO NOTHING RETURNING tn_id, action_id, a_id";
  CL_ASSIGN_OR_RETURN(db::Result r, tx.Query(sql, p.values()));
  // Rows that met an existing action id are not returned: matched by key, not position.
  std::map<std::pair<int64_t, std::string>, int64_t> inserted;
  for (const db::Row& row : r.rows) inserted.emplace(std::pair(row.Int(0), row.Str(1)), row.Int(2));
  for (size_t i = 0; i < rows.size(); ++i) {
    auto it = inserted.find(std::pair(rows[i].first, rows[i].second->action_id));
    if (it == inserted.end()) continue;
    a_ids[i] = it->second;
    inserted.erase(it);  // a second copy of the same id in `rows` met the first
  }
  return a_ids;
}

absl::StatusOr<std::optional<ActionRow>> ActionStore::Find(int64_t tn_id, const std::string& action_id) {
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query(absl::StrCat("SELECT ", kColumns, " FROM actions WHERE tn_id = $1 AND action_id = $2"),
                   {db::P(tn_id), db::P(action_id)}));
  if (r.empty()) return std::optional<ActionRow>();
  return std::optional<ActionRow>(FromRow(r.rows[0]));
}

absl::StatusOr<std::vector<std::pair<int64_t, ActionRow>>> ActionStore::FindMany(
    const std::vector<std::pair<int64_t, std::string>>& ids) {
  std::vector<std::pair<int64_t, ActionRow>> out;
  if (ids.empty()) return out;
  std::vector<std::string> tn_ids, action_ids;
  for (const auto& [tn, id] : ids) {
    tn_ids.push_back(std::to_string(tn));
    action_ids.push_back(id);
  }
  // The pairs as a set joined on the primary key: one index probe each, and a pair
  // repeated in `ids` cannot repeat its row. Planned per call: a cached plan made while
  // the table was young hashes the pairs and reads every tenant's actions.
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query(db::PlannedPerCall(absl::StrCat("SELECT ", kColumns,
                                                   ", tn_id FROM actions WHERE (tn_id, action_id) IN "
                                                   "(SELECT * FROM unnest($1::bigint[], $2::text[]))")),
                   {db::P(db::TextArrayLiteral(tn_ids)), db::P(db::TextArrayLiteral(action_ids))}));
  out.reserve(r.rows.size());
  for (const db::Row& row : r.rows) out.emplace_back(row.Int(kColumnCount), FromRow(row));
  return out;
}

absl::StatusOr<std::optional<ActionRow>> ActionStore::FindInTx(db::Tx& tx, int64_t tn_id,
                                                               const std::string& action_id) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      tx.Query(absl::StrCat("SELECT ", kColumns,
                                            " FROM actions WHERE tn_id = $1 AND action_id = $2 FOR UPDATE"),
                               {db::P(tn_id), db::P(action_id)}));
  if (r.empty()) return std::optional<ActionRow>();
  return std::optional<ActionRow>(FromRow(r.rows[0]));
}

absl::StatusOr<std::optional<ActionRow>> ActionStore::LatestByKey(int64_t tn_id, const std::string& key) {
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(absl::StrCat("SELECT ", kColumns,
                                                              " FROM actions WHERE tn_id = $1 AND key = $2 "
                                                              "AND status <> 'D' "
                                                              "ORDER BY created_at DESC, a_id DESC LIMIT 1"),
                                                 {db::P(tn_id), db::P(key)}));
  if (r.empty()) return std::optional<ActionRow>();
  return std::optional<ActionRow>(FromRow(r.rows[0]));
}

absl::StatusOr<std::vector<ActionRow>> ActionStore::List(int64_t tn_id, const std::string& tenant_id_tag,
                                                         const ListQuery& q, const Viewer& viewer) {
  Params p;
  std::string sql = absl::StrCat("SELECT ", kColumns, " FROM actions WHERE tn_id = ", p.Add(db::P(tn_id)));
  auto eq = [&](const char* col, const std::string& v) {
    if (!v.empty()) absl::StrAppend(&sql, " AND ", col, " = ", p.Add(db::P(v)));
  };
  eq("action_id", q.action_id);
  eq("issuer", q.issuer);
  eq("audience", q.audience);
  eq("parent_id", q.parent_id);
  eq("root_id", q.root_id);
  eq("subject", q.subject);
  if (!q.involved.empty()) {
    std::string v = p.Add(db::P(q.involved));
    absl::StrAppend(&sql, " AND (issuer = ", v, " OR audience = ", v, ")");
  }
  if (q.exclude_own_issuer) absl::StrAppend(&sql, " AND issuer <> ", p.Add(db::P(tenant_id_tag)));
  if (!q.types.empty()) {
    absl::StrAppend(&sql, " AND (type = ANY(", p.Add(db::P(db::TextArrayLiteral(q.types))),
                    "::text[]) OR type || ':' || coalesce(sub_type, '') = ANY(",
                    p.Add(db::P(db::TextArrayLiteral(q.types))), "::text[]))");
  }
  std::vector<std::string> statuses = q.statuses;
  if (statuses.empty()) statuses = {"A", "C", "N"};
  absl::StrAppend(&sql, " AND status = ANY(", p.Add(db::P(db::TextArrayLiteral(statuses))), "::text[])");
  const char* time_col = q.sort_received ? "received_at" : "created_at";
  if (q.created_after)
    absl::StrAppend(&sql, " AND created_at > to_timestamp(", p.Add(db::P(*q.created_after)), ")");
  if (q.created_before)
    absl::StrAppend(&sql, " AND created_at < to_timestamp(", p.Add(db::P(*q.created_before)), ")");
  if (!viewer.owner) {
    // PROTOCOL §2.6 with §13.17: public to all; V to any authenticated caller; F to
    // followers and connections; C to connections only; Direct (D) and S to the
    // issuer and the audience.
    std::vector<std::string> levels = {"P"};
    if (!viewer.id_tag.empty()) levels.push_back("V");
    if (viewer.follower || viewer.connected) levels.push_back("F");
    if (viewer.connected) levels.push_back("C");
    absl::StrAppend(&sql, " AND (visibility = ANY(", p.Add(db::P(db::TextArrayLiteral(levels))), "::text[])");
    if (!viewer.id_tag.empty()) {
      std::string me = p.Add(db::P(viewer.id_tag));
      absl::StrAppend(&sql, " OR issuer = ", me, " OR audience = ", me);
    }
    absl::StrAppend(&sql, ")");
  }
  const char* dir = q.ascending ? "ASC" : "DESC";
  if (q.cursor) {
    absl::StrAppend(&sql, " AND (", time_col, ", a_id) ", q.ascending ? ">" : "<", " (to_timestamp(",
                    p.Add(db::P(q.cursor->first)), "::double precision / 1000000), ",
                    p.Add(db::P(q.cursor->second)), ")");
  }
  absl::StrAppend(&sql, " ORDER BY ", time_col, " ", dir, ", a_id ", dir, " LIMIT ",
                  p.Add(db::P(q.limit + 1)));
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(sql, p.values()));
  std::vector<ActionRow> rows;
  rows.reserve(r.rows.size());
  for (const db::Row& row : r.rows) rows.push_back(FromRow(row));
  return rows;
}

absl::StatusOr<bool> ActionStore::SetStatus(int64_t tn_id, const std::string& action_id,
                                            const std::string& status) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("UPDATE actions SET status = $3 WHERE tn_id = $1 AND action_id = $2 "
                                   "RETURNING a_id",
                                   {db::P(tn_id), db::P(action_id), db::P(status)}));
  return !r.empty();
}

absl::Status ActionStore::ReplaceToken(int64_t tn_id, int64_t a_id, const std::string& token,
                                       const std::string& action_id) {
  return pool_
      ->Query("UPDATE actions SET token = $3, action_id = $4 WHERE tn_id = $1 AND a_id = $2",
              {db::P(tn_id), db::P(a_id), db::P(token), db::P(action_id)})
      .status();
}

absl::Status ActionStore::EnqueueDeliveries(db::Tx& tx, int64_t tn_id, int64_t a_id,
                                            const std::vector<std::string>& recipients,
                                            const std::vector<std::string>& related) {
  if (recipients.empty()) return absl::OkStatus();
  return tx
      .Query(
          "INSERT INTO deliveries (tn_id, a_id, recipient, related) "
          "SELECT $1, $2, r, $4::text[] FROM unnest($3::text[]) AS r ON CONFLICT DO NOTHING",
          {db::P(tn_id), db::P(a_id), db::P(db::TextArrayLiteral(recipients)),
           db::P(db::TextArrayLiteral(related))})
      .status();
}

absl::Status ActionStore::Commit(const std::function<absl::Status(db::Tx&)>& body) {
  return batcher_ ? batcher_->Run(body) : pool_->Transact(body);
}

absl::Status ActionStore::CommitAtomic(const std::function<absl::Status(db::Tx&)>& body,
                                       Durability durability) {
  if (batcher_) return batcher_->RunAtomic(body, durability);
  return pool_->Transact([&](db::Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(SetDurability(tx, durability));
    return body(tx);
  });
}

absl::StatusOr<std::vector<int64_t>> ActionStore::EnqueueInboundBatch(const std::vector<InboundItem>& items,
                                                                      absl::Duration held) {
  std::vector<int64_t> ids;
  if (items.empty()) return ids;
  Params p;
  std::string next_at = absl::StrCat("now() + ", p.Add(db::P(absl::ToInt64Milliseconds(held))),
                                     "::bigint * interval '1 millisecond'");
  std::string sql = "INSERT INTO inbound (tn_id, tenant, token, related, client_ip, next_at) VALUES ";
  for (size_t i = 0; i < items.size(); ++i) {
    const InboundItem& it = items[i];
    absl::StrAppend(&sql, i ? ", (" : "(", p.Add(db::P(it.tn_id)), ", ", p.Add(db::P(it.tenant)), ", ",
                    p.Add(db::P(it.token)), ", ", p.Add(db::P(db::TextArrayLiteral(it.related))),
                    "::text[], ", p.Add(OptText(it.client_ip)), ", ", next_at, ")");
  }
  // PostgreSQL returns a VALUES list's rows in its order; the tenants are checked, and
  // rows that cannot be matched are committed all the same: they are answered empty
  // and wait for a poller once `held` has passed.
  sql += " RETURNING tn_id, in_id";
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(sql, p.values()));
  for (size_t i = 0; i < items.size() && r.rows.size() == items.size(); ++i) {
    if (r.rows[i].Int(0) != items[i].tn_id) return std::vector<int64_t>();
    ids.push_back(r.rows[i].Int(1));
  }
  return ids;
}

namespace {

// (tn_id, in_id) pairs as the two arrays a statement unnests.
std::vector<db::Param> InboundKeys(const std::vector<std::pair<int64_t, int64_t>>& rows) {
  std::vector<std::string> tn_ids, in_ids;
  for (const auto& [tn, in] : rows) {
    tn_ids.push_back(std::to_string(tn));
    in_ids.push_back(std::to_string(in));
  }
  return {db::P(db::TextArrayLiteral(tn_ids)), db::P(db::TextArrayLiteral(in_ids))};
}

// The rows of InboundKeys() by tuple id, each found by its own primary-key probe. A
// join would let the planner put the queue on the outside and read it whole for every
// key, which it does when its statistics were taken while the queue was empty (1.6 ms
// a statement with 9,000 queued rows, against 0.1 ms this way).
constexpr char kInboundRows[] =
    "ctid = ANY(ARRAY(SELECT r.ctid FROM unnest($1::bigint[], $2::bigint[]) AS d(t, id) "
    "CROSS JOIN LATERAL (SELECT ctid FROM inbound WHERE tn_id = d.t AND in_id = d.id LIMIT 1) r))";

}  // namespace

absl::Status ActionStore::DeleteInbound(const std::vector<std::pair<int64_t, int64_t>>& rows,
                                        Durability durability) {
  if (rows.empty()) return absl::OkStatus();
  return CommitAtomic(
      [&](db::Tx& tx) {
        return tx
            .Query(db::PlannedPerCall(absl::StrCat("DELETE FROM inbound WHERE ", kInboundRows)),
                   InboundKeys(rows))
            .status();
      },
      durability);
}

absl::Status ActionStore::ReleaseInbound(const std::vector<std::pair<int64_t, int64_t>>& rows) {
  if (rows.empty()) return absl::OkStatus();
  return pool_
      ->Query(db::PlannedPerCall(absl::StrCat("UPDATE inbound SET next_at = now() WHERE ", kInboundRows)),
              InboundKeys(rows))
      .status();
}

}  // namespace cloudillo::action
