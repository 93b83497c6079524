#include "store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cloudillo/core/status_macros.h"
#include "path.h"

namespace cloudillo::collab::rtdb {
namespace {

using db::P;
using db::Param;

std::string Ph(std::vector<Param>& params, Param p) {
  params.push_back(std::move(p));
  return absl::StrCat("$", params.size());
}

std::string FieldExpr(std::vector<Param>& params, const std::string& field) {
  return absl::StrCat("doc->(", Ph(params, P(field)), "::text)");
}

std::string JsonParam(std::vector<Param>& params, const Json& v) {
  return absl::StrCat(Ph(params, P(Dump(v))), "::jsonb");
}

// Rows in [tn_id, file_id] scoped to `path`: parameters $1..$3.
std::string ScopeSql(Scope scope) {
  switch (scope) {
    case Scope::kDocument:
      return "path = $3";
    case Scope::kChildren:
      return "parent_path = $3";
    case Scope::kSubtree:
      // What a subtree subscription starts with is the collection's own documents,
      // as in the reference (its query lists direct children); live events then
      // cover every depth (session.cc InScope).
      return "parent_path = $3";
  }
  return "false";
}

// Wraps an ordered, limited SELECT of (path, doc) so that rows stop once the running
// size passes kMaxResultBytes (the first row always passes: a single document is
// itself bounded).
std::string BoundBytes(const std::string& inner, std::vector<Param>& params) {
  const std::string budget = Ph(params, P(kMaxResultBytes));
  return absl::StrCat(
      "SELECT path, doc::text FROM (SELECT path, doc, ord, sum(octet_length(doc::text)) OVER (ORDER BY ord) "
      "AS run "
      "FROM (SELECT path, doc, row_number() OVER () AS ord FROM (",
      inner, ") a) b) c WHERE run <= ", budget, "::bigint OR ord = 1 ORDER BY ord");
}

std::string SqlCond(const Condition& c, std::vector<Param>& params) {
  const std::string f = FieldExpr(params, c.field);
  switch (c.op) {
    case Condition::Op::kEquals:
      return absl::StrCat(f, " = ", JsonParam(params, c.value));
    case Condition::Op::kNotEquals:
      return absl::StrCat(f, " IS DISTINCT FROM ", JsonParam(params, c.value));
    case Condition::Op::kGreaterThan:
      return absl::StrCat(f, " > ", JsonParam(params, c.value));
    case Condition::Op::kGreaterThanOrEqual:
      return absl::StrCat(f, " >= ", JsonParam(params, c.value));
    case Condition::Op::kLessThan:
      return absl::StrCat(f, " < ", JsonParam(params, c.value));
    case Condition::Op::kLessThanOrEqual:
      return absl::StrCat(f, " <= ", JsonParam(params, c.value));
    case Condition::Op::kInArray:
      return absl::StrCat("EXISTS (SELECT 1 FROM jsonb_array_elements(", JsonParam(params, c.value),
                          ") e WHERE e = ", f, ")");
    case Condition::Op::kNotInArray:
      return absl::StrCat("NOT EXISTS (SELECT 1 FROM jsonb_array_elements(", JsonParam(params, c.value),
                          ") e WHERE e = ", f, ")");
    case Condition::Op::kArrayContains:
      return absl::StrCat("(CASE WHEN jsonb_typeof(", f,
                          ") = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(", f,
                          ") e WHERE e = ", JsonParam(params, c.value), ") ELSE false END)");
    case Condition::Op::kArrayContainsAny:
    case Condition::Op::kArrayContainsAll: {
      const bool all = c.op == Condition::Op::kArrayContainsAll;
      const std::string wanted = JsonParam(params, c.value);
      // Any: some wanted value is an element. All: no wanted value is missing.
      return absl::StrCat("(CASE WHEN jsonb_typeof(", f, ") = 'array' THEN ", all ? "NOT " : "",
                          "EXISTS (SELECT 1 FROM jsonb_array_elements(", wanted, ") w WHERE ",
                          all ? "NOT " : "", "EXISTS (SELECT 1 FROM jsonb_array_elements(", f,
                          ") e WHERE e = w)) ELSE false END)");
    }
  }
  return "false";
}

std::string OrderSql(const std::vector<SortKey>& sort, std::vector<Param>& params) {
  std::vector<std::string> keys;
  for (const SortKey& k : sort)
    keys.push_back(
        absl::StrCat(FieldExpr(params, k.field), k.ascending ? " ASC NULLS FIRST" : " DESC NULLS LAST"));
  keys.push_back("path");
  return absl::StrJoin(keys, ", ");
}

// A row narrowed to the fields an aggregate reads (so a scan of max_scan_rows
// documents holds a few values per row, not whole documents).
std::string NarrowDocSql(const AggregateSpec& spec, std::vector<Param>& params) {
  std::vector<std::string> fields = {spec.group_by};
  for (const AggregateOp& op : spec.ops) fields.push_back(op.field);
  std::vector<std::string> args;
  for (const std::string& f : fields) {
    const std::string ph = Ph(params, P(f));
    args.push_back(absl::StrCat(ph, "::text, doc->(", ph, "::text)"));
  }
  return absl::StrCat("jsonb_build_object(", absl::StrJoin(args, ", "), ")::text");
}

absl::StatusOr<std::vector<Json>> RunAggregate(db::Tx& tx, const std::string& where,
                                               std::vector<Param> params, const AggregateSpec& spec,
                                               const Limits& limits) {
  const std::string narrow = NarrowDocSql(spec, params);
  const std::string cap = Ph(params, P(int64_t(limits.max_scan_rows)));
  CL_ASSIGN_OR_RETURN(db::Result rows, tx.Query(absl::StrCat("SELECT '', ", narrow, " FROM rtdb_docs WHERE ",
                                                             where, " ORDER BY path LIMIT ", cap, "::bigint"),
                                                params));
  Aggregator agg(spec, limits.max_groups);
  for (const db::Row& r : rows.rows) {
    Json doc = Json::parse(r.Str(1), nullptr, false);
    if (!doc.is_discarded()) agg.Add(doc);
  }
  return agg.Result();
}

std::string BaseWhere(Scope scope, const std::optional<Filter>& filter, std::vector<Param>& params) {
  std::string where = absl::StrCat("tn_id = $1 AND file_id = $2 AND ", ScopeSql(scope));
  if (filter && !filter->empty()) absl::StrAppend(&where, " AND ", FilterSql(*filter, params));
  return where;
}

}  // namespace

std::string FilterSql(const Filter& filter, std::vector<Param>& params) {
  std::vector<std::string> conds;
  for (const Condition& c : filter.conditions) conds.push_back(SqlCond(c, params));
  return conds.empty() ? "true" : absl::StrCat("(", absl::StrJoin(conds, " AND "), ")");
}

std::vector<Json> DocsOfRows(const db::Result& rows) {
  std::vector<Json> docs;
  for (const db::Row& r : rows.rows) {
    Json doc = Json::parse(r.Str(1), nullptr, false);
    if (doc.is_discarded()) continue;
    if (doc.is_object() && !doc.contains("id")) doc["id"] = std::string(LastSegment(r.Str(0)));
    docs.push_back(std::move(doc));
  }
  return docs;
}

absl::StatusOr<std::optional<Json>> TxStore::GetForUpdate(const std::string& path) {
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      tx_.Query("SELECT path, doc::text FROM rtdb_docs WHERE tn_id = $1 AND file_id = $2 AND path = $3 "
                "FOR UPDATE",
                {P(tn_id_), P(file_id_), P(path)}));
  std::vector<Json> docs = DocsOfRows(r);
  if (docs.empty()) return std::nullopt;
  return std::move(docs.front());
}

absl::Status TxStore::Put(const std::string& path, const Json& doc, bool existed) {
  if (!doc.is_object()) return absl::InvalidArgumentError("document must be an object");
  std::string text = Dump(doc);
  if (text.size() > limits_.max_doc_bytes) return absl::InvalidArgumentError("document too large");
  if (existed) {
    return tx_
        .Query(
            "UPDATE rtdb_docs SET doc = $4::jsonb, updated_at = now() WHERE tn_id = $1 AND file_id = $2 AND "
            "path = $3",
            {P(tn_id_), P(file_id_), P(path), P(text)})
        .status();
  }
  return tx_
      .Query(
          "INSERT INTO rtdb_docs (tn_id, file_id, path, parent_path, doc) VALUES ($1, $2, $3, $4, $5::jsonb)",
          {P(tn_id_), P(file_id_), P(path), P(ParentPath(path)), P(text)})
      .status();
}

absl::Status TxStore::Delete(const std::string& path) {
  return tx_
      .Query("DELETE FROM rtdb_docs WHERE tn_id = $1 AND file_id = $2 AND path = $3",
             {P(tn_id_), P(file_id_), P(path)})
      .status();
}

absl::StatusOr<std::optional<LockInfo>> TxStore::LockOf(const std::string& path) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      tx_.Query("SELECT holder, hard FROM rtdb_locks WHERE tn_id = $1 AND file_id = $2 "
                                "AND path = $3 AND expires_at > now()",
                                {P(tn_id_), P(file_id_), P(path)}));
  if (r.empty()) return std::nullopt;
  return LockInfo{r.rows[0].Str(0), r.rows[0].Bool(1)};
}

absl::StatusOr<Json> TxStore::ComputedQuery(const std::string& kind, const std::string& path,
                                            const std::string& field, const Json& filter) {
  std::vector<Param> params = {P(tn_id_), P(file_id_), P(path)};
  if (kind == "exists") {
    CL_ASSIGN_OR_RETURN(
        db::Result r,
        tx_.Query("SELECT 1 FROM rtdb_docs WHERE tn_id = $1 AND file_id = $2 AND path = $3", params));
    return Json(!r.empty());
  }
  std::optional<Filter> f = ParseFilter(filter, limits_);
  const std::string where = BaseWhere(Scope::kChildren, f, params);
  if (kind == "count") {
    CL_ASSIGN_OR_RETURN(db::Result r,
                        tx_.Query(absl::StrCat("SELECT count(*) FROM rtdb_docs WHERE ", where), params));
    return Json(r.rows[0].Int(0));
  }
  AggregateSpec spec;
  spec.group_by = field;  // any value: only the per-field numbers of one pass matter
  AggregateOp::Kind k = kind == "sum"   ? AggregateOp::Kind::kSum
                        : kind == "avg" ? AggregateOp::Kind::kAvg
                        : kind == "min" ? AggregateOp::Kind::kMin
                                        : AggregateOp::Kind::kMax;
  spec.ops.push_back({k, field});
  const std::string value = FieldExpr(params, field);
  const std::string cap = Ph(params, P(int64_t(limits_.max_scan_rows)));
  CL_ASSIGN_OR_RETURN(db::Result rows,
                      tx_.Query(absl::StrCat("SELECT ", value, "::text FROM rtdb_docs WHERE ", where,
                                             " ORDER BY path LIMIT ", cap, "::bigint"),
                                params));
  double sum = 0, lo = 0, hi = 0;
  int64_t n = 0;
  for (const db::Row& r : rows.rows) {
    if (r.IsNull(0)) continue;
    Json v = Json::parse(r.Str(0), nullptr, false);
    if (!v.is_number()) continue;
    double d = v.get<double>();
    sum += d;
    lo = n == 0 ? d : std::min(lo, d);
    hi = n == 0 ? d : std::max(hi, d);
    ++n;
  }
  if (kind == "sum") return Json(sum);
  if (n == 0) return Json(nullptr);
  if (kind == "avg") return Json(sum / double(n));
  return Json(kind == "min" ? lo : hi);
}

absl::StatusOr<std::optional<Json>> RtdbStore::Get(int64_t tn_id, const std::string& file_id,
                                                   const std::string& path) {
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query("SELECT path, doc::text FROM rtdb_docs WHERE tn_id = $1 AND "
                                                 "file_id = $2 AND path = $3",
                                                 {P(tn_id), P(file_id), P(path)}));
  std::vector<Json> docs = DocsOfRows(r);
  if (docs.empty()) return std::nullopt;
  return std::move(docs.front());
}

absl::StatusOr<std::vector<Json>> RtdbStore::Query(int64_t tn_id, const std::string& file_id,
                                                   const std::string& path, const ReadOptions& o) {
  std::vector<Param> params = {P(tn_id), P(file_id), P(path)};
  const std::string where = BaseWhere(Scope::kChildren, o.filter, params);
  std::vector<Json> out;
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    if (o.aggregate) {
      CL_ASSIGN_OR_RETURN(out, RunAggregate(tx, where, params, *o.aggregate, limits_));
      return absl::OkStatus();
    }
    std::vector<Param> p = params;
    const std::string order = OrderSql(o.sort, p);
    const std::string limit = Ph(p, P(o.limit));
    const std::string offset = Ph(p, P(o.offset));
    const std::string inner = absl::StrCat("SELECT path, doc FROM rtdb_docs WHERE ", where, " ORDER BY ",
                                           order, " LIMIT ", limit, "::bigint OFFSET ", offset, "::bigint");
    CL_ASSIGN_OR_RETURN(db::Result r, tx.Query(BoundBytes(inner, p), p));
    out = DocsOfRows(r);
    return absl::OkStatus();
  }));
  for (Json& d : out) d = Project(d, o.aggregate ? std::vector<std::string>{} : o.select);
  return out;
}

absl::StatusOr<std::vector<Json>> RtdbStore::Scan(int64_t tn_id, const std::string& file_id,
                                                  const std::string& path, Scope scope,
                                                  const std::optional<Filter>& filter) {
  std::vector<Param> params = {P(tn_id), P(file_id), P(path)};
  const std::string where = BaseWhere(scope, filter, params);
  const std::string cap = Ph(params, P(int64_t(limits_.max_ready_docs)));
  const std::string inner =
      absl::StrCat("SELECT path, doc FROM rtdb_docs WHERE ", where, " ORDER BY path LIMIT ", cap, "::bigint");
  CL_ASSIGN_OR_RETURN(db::Result r, pool_->Query(BoundBytes(inner, params), params));
  return DocsOfRows(r);
}

absl::StatusOr<std::vector<Json>> RtdbStore::AggregateScan(int64_t tn_id, const std::string& file_id,
                                                           const std::string& path, Scope scope,
                                                           const std::optional<Filter>& filter,
                                                           const AggregateSpec& spec) {
  std::vector<Param> params = {P(tn_id), P(file_id), P(path)};
  const std::string where = BaseWhere(scope, filter, params);
  std::vector<Json> out;
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    CL_ASSIGN_OR_RETURN(out, RunAggregate(tx, where, params, spec, limits_));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status RtdbStore::Transact(int64_t tn_id, const std::string& file_id,
                                 const std::function<absl::Status(TxStore&)>& fn) {
  absl::Status st;
  for (int attempt = 0; attempt < limits_.tx_retries; ++attempt) {
    st = pool_->Transact([&](db::Tx& tx) {
      TxStore view(tx, tn_id, file_id, limits_);
      return fn(view);
    });
    // Aborted: serialization failure or deadlock. AlreadyExists: two transactions
    // created the same path; the loser sees the winner's row on the next run.
    if (!absl::IsAborted(st) && !absl::IsAlreadyExists(st)) return st;
  }
  return st;
}

absl::StatusOr<std::optional<LockInfo>> RtdbStore::Lock(int64_t tn_id, const std::string& file_id,
                                                        const std::string& path, const std::string& holder,
                                                        bool hard, const std::string& conn_id) {
  CL_ASSIGN_OR_RETURN(
      db::Result r,
      pool_->Query(
          "INSERT INTO rtdb_locks (tn_id, file_id, path, holder, hard, conn_id, expires_at) "
          "VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7::int)) "
          "ON CONFLICT (tn_id, file_id, path) DO UPDATE SET holder = EXCLUDED.holder, hard = EXCLUDED.hard, "
          "conn_id = EXCLUDED.conn_id, expires_at = EXCLUDED.expires_at "
          "WHERE rtdb_locks.holder = EXCLUDED.holder OR rtdb_locks.expires_at <= now() RETURNING 1",
          {P(tn_id), P(file_id), P(path), P(holder), P(hard), P(conn_id), P(limits_.lock_ttl_seconds)}));
  if (!r.empty()) return std::nullopt;
  CL_ASSIGN_OR_RETURN(db::Result cur, pool_->Query("SELECT holder, hard FROM rtdb_locks WHERE tn_id = $1 AND "
                                                   "file_id = $2 AND path = $3",
                                                   {P(tn_id), P(file_id), P(path)}));
  // Released between the two statements: report the race as a refusal, the client retries.
  if (cur.empty()) return LockInfo{"", false};
  return LockInfo{cur.rows[0].Str(0), cur.rows[0].Bool(1)};
}

absl::StatusOr<bool> RtdbStore::Unlock(int64_t tn_id, const std::string& file_id, const std::string& path,
                                       const std::string& holder) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("DELETE FROM rtdb_locks WHERE tn_id = $1 AND file_id = $2 AND "
                                   "path = $3 AND holder = $4 RETURNING 1",
                                   {P(tn_id), P(file_id), P(path), P(holder)}));
  return !r.empty();
}

absl::StatusOr<std::vector<std::string>> RtdbStore::ReleaseConnection(int64_t tn_id,
                                                                      const std::string& file_id,
                                                                      const std::string& conn_id) {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool_->Query("DELETE FROM rtdb_locks WHERE tn_id = $1 AND file_id = $2 AND "
                                   "conn_id = $3 RETURNING path",
                                   {P(tn_id), P(file_id), P(conn_id)}));
  std::vector<std::string> paths;
  for (const db::Row& row : r.rows) paths.push_back(row.Str(0));
  return paths;
}

absl::Status RtdbStore::RefreshLocks(int64_t tn_id, const std::string& file_id, const std::string& conn_id) {
  return pool_
      ->Query(
          "UPDATE rtdb_locks SET expires_at = now() + make_interval(secs => $4::int) WHERE tn_id = $1 AND "
          "file_id = $2 AND conn_id = $3",
          {P(tn_id), P(file_id), P(conn_id), P(limits_.lock_ttl_seconds)})
      .status();
}

absl::Status RtdbStore::CreateIndex(const std::string& field) {
  if (field.empty() || field.size() > 48) return absl::InvalidArgumentError("bad index field");
  for (char c : field)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return absl::InvalidArgumentError("bad index field");
  return pool_->Transact([&](db::Tx& tx) -> absl::Status {
    // Serialises index creation, so the bound holds under concurrent requests.
    CL_RETURN_IF_ERROR(tx.Query("LOCK TABLE rtdb_indexes IN EXCLUSIVE MODE").status());
    CL_ASSIGN_OR_RETURN(db::Result have, tx.Query("SELECT 1 FROM rtdb_indexes WHERE field = $1", {P(field)}));
    if (!have.empty()) return absl::OkStatus();
    CL_ASSIGN_OR_RETURN(db::Result n, tx.Query("SELECT count(*) FROM rtdb_indexes"));
    if (n.rows[0].Int(0) >= int64_t(limits_.max_indexes)) return absl::OkStatus();
    CL_RETURN_IF_ERROR(tx.Query("INSERT INTO rtdb_indexes (field) VALUES ($1)", {P(field)}).status());
    // `field` is [A-Za-z0-9_]: safe inside the quoted name and the literal.
    return tx
        .Query(absl::StrCat("CREATE INDEX IF NOT EXISTS \"rtdb_docs_f_", field,
                            "\" ON rtdb_docs (tn_id, file_id, parent_path, (doc->'", field, "'))"))
        .status();
  });
}

}  // namespace cloudillo::collab::rtdb
