#include "doc_store.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/db/sql_text.h"

namespace cloudillo::collab {
namespace {

// bytea travels as hex text: db::Param is text in PostgreSQL's input syntax.
std::string Hex(const std::string& b) { return absl::BytesToHexString(AV(b)); }
std::string Unhex(const std::string& h) { return absl::HexStringToBytes(AV(h)); }

// Two lock spaces per document: writers, compactors.
const char* const kWriterLock =
    "SELECT pg_advisory_xact_lock(hashtextextended('crdt:w:' || $1 || ':' || $2, 0))";
const char* const kCompactLock =
    "SELECT pg_try_advisory_xact_lock(hashtextextended('crdt:c:' || $1 || ':' || $2, 0))";

}  // namespace

std::string InitialUpdate() { return absl::HexStringToBytes("010101002801046d6574610169017800"); }

absl::StatusOr<int64_t> DocStore::Append(int64_t tn_id, const std::string& doc_id, const std::string& update,
                                         const std::string& id_tag) {
  CL_ASSIGN_OR_RETURN(auto seqs, AppendBatch({{tn_id, doc_id, update, id_tag}}));
  return seqs.at(0);
}

absl::StatusOr<std::vector<int64_t>> DocStore::AppendBatch(const std::vector<AppendItem>& items) {
  std::vector<int64_t> seqs;
  if (items.empty()) return seqs;
  // The writers' locks are taken in (tenant, document) order, whoever batches: two
  // replicas' batches never wait on each other in a cycle.
  std::vector<std::pair<int64_t, std::string>> docs;
  for (const AppendItem& it : items) docs.emplace_back(it.tn_id, it.doc_id);
  std::sort(docs.begin(), docs.end());
  docs.erase(std::unique(docs.begin(), docs.end()), docs.end());
  std::vector<std::string> lock_tns, lock_docs, tns, doc_ids, hex, writers;
  for (const auto& [tn, doc] : docs) {
    lock_tns.push_back(std::to_string(tn));
    lock_docs.push_back(doc);
  }
  for (const AppendItem& it : items) {
    tns.push_back(std::to_string(it.tn_id));
    doc_ids.push_back(it.doc_id);
    hex.push_back(Hex(it.update));
    writers.push_back(it.id_tag);
  }
  // One call, one round trip, one implicit transaction (V003__append_function.sql).
  CL_ASSIGN_OR_RETURN(
      auto r, pool_->Query("SELECT seq FROM crdt_append($1::bigint[], $2::text[], $3::bigint[], $4::text[], "
                           "$5::text[], $6::text[])",
                           {db::P(db::TextArrayLiteral(lock_tns)), db::P(db::TextArrayLiteral(lock_docs)),
                            db::P(db::TextArrayLiteral(tns)), db::P(db::TextArrayLiteral(doc_ids)),
                            db::P(db::TextArrayLiteral(hex)), db::P(db::TextArrayLiteral(writers))}));
  if (r.rows.size() != items.size()) return absl::InternalError("group commit returned a wrong row count");
  for (const auto& row : r.rows) seqs.push_back(row.Int(0));
  return seqs;
}

absl::StatusOr<std::vector<UpdateRow>> DocStore::Load(int64_t tn_id, const std::string& doc_id,
                                                      int64_t after_seq, bool init_if_empty) {
  const char* const kSelect =
      "SELECT seq, encode(bytes, 'hex') FROM crdt_updates WHERE tn_id = $1 AND doc_id = $2 AND seq > $3 "
      "ORDER BY seq";
  CL_ASSIGN_OR_RETURN(auto r, pool_->Query(kSelect, {db::P(tn_id), db::P(doc_id), db::P(after_seq)}));
  if (r.empty() && after_seq == 0 && init_if_empty) {
    CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
      CL_RETURN_IF_ERROR(tx.Query(kWriterLock, {db::P(tn_id), db::P(doc_id)}).status());
      return tx
          .Query(
              "INSERT INTO crdt_updates (tn_id, doc_id, seq, bytes) SELECT $1::bigint, $2::text, 1, "
              "decode($3, 'hex') "
              "WHERE NOT EXISTS (SELECT 1 FROM crdt_updates WHERE tn_id = $1 AND doc_id = $2)",
              {db::P(tn_id), db::P(doc_id), db::P(Hex(InitialUpdate()))})
          .status();
    }));
    CL_ASSIGN_OR_RETURN(r, pool_->Query(kSelect, {db::P(tn_id), db::P(doc_id), db::P(after_seq)}));
  }
  std::vector<UpdateRow> out;
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) out.push_back({row.Int(0), Unhex(row.Str(1))});
  return out;
}

absl::StatusOr<int64_t> DocStore::Compact(int64_t tn_id, const std::string& doc_id,
                                          const CompactionLimits& limits, const yjs::Limits& yjs_limits) {
  int64_t left = -1;
  for (int round = 0; round < limits.max_rounds; ++round) {
    bool progressed = false;
    absl::Status st = pool_->Transact([&](db::Tx& tx) -> absl::Status {
      CL_ASSIGN_OR_RETURN(auto lock, tx.Query(kCompactLock, {db::P(tn_id), db::P(doc_id)}));
      if (!lock.rows.at(0).Bool(0)) return absl::OkStatus();  // another replica is at it
      CL_ASSIGN_OR_RETURN(auto sizes,
                          tx.Query("SELECT seq, length(bytes) FROM crdt_updates WHERE tn_id = $1 "
                                   "AND doc_id = $2 ORDER BY seq LIMIT $3",
                                   {db::P(tn_id), db::P(doc_id), db::P(int64_t(limits.batch_rows))}));
      size_t n = 0, bytes = 0;
      for (const auto& row : sizes.rows) {
        if (n >= 2 && bytes + size_t(row.Int(1)) > limits.batch_bytes) break;
        bytes += size_t(row.Int(1));
        ++n;
      }
      CL_ASSIGN_OR_RETURN(auto count,
                          tx.Query("SELECT count(*) FROM crdt_updates WHERE tn_id = $1 AND doc_id = $2",
                                   {db::P(tn_id), db::P(doc_id)}));
      left = count.rows.at(0).Int(0);
      if (n < 2) return absl::OkStatus();
      int64_t first = sizes.rows[0].Int(0), last = sizes.rows[n - 1].Int(0);
      CL_ASSIGN_OR_RETURN(auto rows,
                          tx.Query("SELECT encode(bytes, 'hex') FROM crdt_updates WHERE tn_id = $1 AND "
                                   "doc_id = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq",
                                   {db::P(tn_id), db::P(doc_id), db::P(first), db::P(last)}));
      std::vector<std::string> updates;
      updates.reserve(rows.rows.size());
      for (const auto& row : rows.rows) updates.push_back(Unhex(row.Str(0)));
      CL_ASSIGN_OR_RETURN(std::string merged, MergeBounded(updates, limits.batch_rows, yjs_limits));
      CL_RETURN_IF_ERROR(
          tx.Query("DELETE FROM crdt_updates WHERE tn_id = $1 AND doc_id = $2 AND seq >= $3 AND "
                   "seq < $4",
                   {db::P(tn_id), db::P(doc_id), db::P(first), db::P(last)})
              .status());
      CL_RETURN_IF_ERROR(
          tx.Query("UPDATE crdt_updates SET bytes = decode($4, 'hex'), id_tag = '' WHERE tn_id = "
                   "$1 AND doc_id = $2 AND seq = $3",
                   {db::P(tn_id), db::P(doc_id), db::P(last), db::P(Hex(merged))})
              .status());
      left -= int64_t(rows.rows.size()) - 1;
      progressed = true;
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    if (!progressed) break;
  }
  return left;
}

absl::Status DocStore::Drop(int64_t tn_id, const std::string& doc_id) {
  return pool_
      ->Query("DELETE FROM crdt_updates WHERE tn_id = $1 AND doc_id = $2", {db::P(tn_id), db::P(doc_id)})
      .status();
}

absl::StatusOr<std::string> MergeBounded(const std::vector<std::string>& updates, size_t batch,
                                         const yjs::Limits& limits) {
  if (batch < 2) batch = 2;
  std::vector<std::string> level = updates;
  if (level.empty()) return yjs::MergeUpdates({}, limits);
  while (level.size() > 1) {
    std::vector<std::string> next;
    for (size_t i = 0; i < level.size(); i += batch) {
      std::vector<std::string_view> views;
      for (size_t k = i; k < std::min(level.size(), i + batch); ++k) views.push_back(level[k]);
      CL_ASSIGN_OR_RETURN(std::string m, yjs::MergeUpdates(views, limits));
      next.push_back(std::move(m));
    }
    level = std::move(next);
  }
  return std::move(level[0]);
}

}  // namespace cloudillo::collab
