// RTDB documents in PostgreSQL (schema `collab`, migrations/): one JSONB row per
// document, keyed (tn_id, file_id, path), so the same file id in two tenants are two
// unrelated databases. Filters and sorts become SQL over `doc -> field` with every
// field name and value a bound parameter; nothing a client sends is spliced into a
// statement (createIndex's field is the one exception, restricted to [A-Za-z0-9_]).
//
// Result sizes are bounded in rows (Limits) and bytes (kMaxResultBytes): a big result
// is cut short by PostgreSQL before it reaches this process.
//
// Locks (§6.4) live here too, so that every replica sees them: one row per locked
// path with its holder, the connection that took it and an expiry that the holding
// session keeps pushing forward (a replica that dies leaves locks that expire).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/db/pool.h"
#include "json.h"
#include "query_spec.h"
#include "rtdb_limits.h"

namespace cloudillo::collab::rtdb {

inline constexpr int64_t kMaxResultBytes = 8 << 20;

enum class Scope { kDocument, kChildren, kSubtree };

struct LockInfo {
  std::string holder;
  bool hard = false;
};

// One transaction's view of one database (tenant + file). Reads of documents that
// will be written lock their rows, so two transactions incrementing the same counter
// serialise instead of losing an update.
class TxStore {
 public:
  TxStore(db::Tx& tx, int64_t tn_id, const std::string& file_id, const Limits& limits)
      : tx_(tx), tn_id_(tn_id), file_id_(file_id), limits_(limits) {}
  absl::StatusOr<std::optional<Json>> GetForUpdate(const std::string& path);
  // Writes the document. `existed` says what GetForUpdate saw: an existing row is
  // updated (it is locked), a missing one inserted without ON CONFLICT, so that a
  // concurrent insert of the same path fails (AlreadyExists) and the transaction is
  // retried instead of overwriting the other's write with a stale computation.
  // InvalidArgument when the document is not an object or over max_doc_bytes.
  absl::Status Put(const std::string& path, const Json& doc, bool existed);
  absl::Status Delete(const std::string& path);
  // The unexpired lock on `path`, if any.
  absl::StatusOr<std::optional<LockInfo>> LockOf(const std::string& path);
  // `$query` (write_ops.h): count, sum, avg, min, max over the children of `path`
  // (optionally filtered), or exists for a document path.
  absl::StatusOr<Json> ComputedQuery(const std::string& kind, const std::string& path,
                                     const std::string& field, const Json& filter);

 private:
  db::Tx& tx_;
  int64_t tn_id_;
  const std::string& file_id_;
  const Limits& limits_;
};

class RtdbStore {
 public:
  RtdbStore(std::shared_ptr<db::Pool> pool, Limits limits) : pool_(std::move(pool)), limits_(limits) {}

  // The document at `path` (with `id` filled from the path when missing), or nullopt.
  absl::StatusOr<std::optional<Json>> Get(int64_t tn_id, const std::string& file_id, const std::string& path);
  // The children of collection `path`: filtered, sorted, paged; or, with an
  // aggregate, the groups.
  absl::StatusOr<std::vector<Json>> Query(int64_t tn_id, const std::string& file_id, const std::string& path,
                                          const ReadOptions& options);
  // The documents a subscription starts with, in path order, at most max_ready_docs:
  // the document itself for kDocument, the collection's children otherwise.
  absl::StatusOr<std::vector<Json>> Scan(int64_t tn_id, const std::string& file_id, const std::string& path,
                                         Scope scope, const std::optional<Filter>& filter);
  // Aggregate groups over `path` in `scope`.
  absl::StatusOr<std::vector<Json>> AggregateScan(int64_t tn_id, const std::string& file_id,
                                                  const std::string& path, Scope scope,
                                                  const std::optional<Filter>& filter,
                                                  const AggregateSpec& spec);

  // Runs `fn` in one transaction, again from the start (at most Limits::tx_retries
  // times) when PostgreSQL reports a serialization failure, deadlock or a concurrent
  // insert of the same path. `fn` must be safe to run more than once.
  absl::Status Transact(int64_t tn_id, const std::string& file_id,
                        const std::function<absl::Status(TxStore&)>& fn);

  // nullopt when `holder` now holds the lock (fresh, or already its own); otherwise
  // the lock that stands in the way.
  absl::StatusOr<std::optional<LockInfo>> Lock(int64_t tn_id, const std::string& file_id,
                                               const std::string& path, const std::string& holder, bool hard,
                                               const std::string& conn_id);
  // True when a lock of `holder` was released.
  absl::StatusOr<bool> Unlock(int64_t tn_id, const std::string& file_id, const std::string& path,
                              const std::string& holder);
  // Releases the locks taken through a connection; returns their paths.
  absl::StatusOr<std::vector<std::string>> ReleaseConnection(int64_t tn_id, const std::string& file_id,
                                                             const std::string& conn_id);
  absl::Status RefreshLocks(int64_t tn_id, const std::string& file_id, const std::string& conn_id);

  // An expression index over doc->field. The table is shared by every tenant, so the
  // number of such indexes is bounded (Limits::max_indexes); past it the request is
  // accepted and nothing is built (an index is only ever an optimisation).
  // InvalidArgument for a field outside [A-Za-z0-9_]{1,48}.
  absl::Status CreateIndex(const std::string& field);

  const Limits& limits() const { return limits_; }

 private:
  std::shared_ptr<db::Pool> pool_;
  Limits limits_;
};

// Shared by RtdbStore and TxStore: the SQL condition for `filter` over column `doc`,
// appending its parameters.
std::string FilterSql(const Filter& filter, std::vector<db::Param>& params);
// Builds the documents of rows (path, doc text).
std::vector<Json> DocsOfRows(const db::Result& rows);

}  // namespace cloudillo::collab::rtdb
