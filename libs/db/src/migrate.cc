#include "cloudillo/db/migrate.h"

#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::db {
namespace {

struct Known {
  int latest = 0;               // the binary's version
  std::vector<int> min_binary;  // per migration, parallel to the list
};

absl::StatusOr<Known> Validate(const std::vector<Migration>& migrations) {
  Known k;
  for (const auto& m : migrations) {
    if (m.version <= k.latest) {
      return absl::InvalidArgumentError("migration V" + std::to_string(m.version) + "__" + m.name +
                                        ": versions must be positive and increasing");
    }
    CL_ASSIGN_OR_RETURN(int min_binary, MinBinaryVersion(m));
    k.min_binary.push_back(min_binary);
    k.latest = m.version;
  }
  return k;
}

struct SchemaState {
  int version = 0;       // highest applied migration
  int needs_binary = 0;  // highest min_binary_version over applied migrations
};

// Reads the column through to_jsonb so that one statement (one snapshot) works on a
// table from before the column existed, where it counts as 0 (expand-only).
constexpr char kMinBinaryExpr[] = "coalesce((to_jsonb(m) ->> 'min_binary_version')::int, 0)";

template <typename Q>
absl::StatusOr<SchemaState> ReadState(Q& q, const std::string& schema) {
  CL_ASSIGN_OR_RETURN(Result r, q.Query(std::string("SELECT coalesce(max(version), 0), coalesce(max(") +
                                        kMinBinaryExpr + "), 0) FROM " + schema + ".schema_migrations m"));
  return SchemaState{int(r.rows[0].Int(0)), int(r.rows[0].Int(1))};
}

// FailedPrecondition naming the first applied migration that excludes this binary.
template <typename Q>
absl::Status TooOld(Q& q, const std::string& schema, const SchemaState& s, int latest) {
  std::string which = "a contract migration";
  auto r = q.Query(std::string("SELECT version, name, ") + kMinBinaryExpr + " FROM " + schema +
                       ".schema_migrations m WHERE " + kMinBinaryExpr + " > $1 ORDER BY version LIMIT 1",
                   {P(latest)});
  if (r.ok() && !r->empty()) {
    which = "contract migration V" + r->rows[0].Str(0) + "__" + r->rows[0].Str(1) + " (min-binary-version " +
            r->rows[0].Str(2) + ")";
  }
  return absl::FailedPreconditionError(
      "schema " + schema + " is at version " + std::to_string(s.version) + " and has " + which +
      ": it needs a binary knowing migration " + std::to_string(s.needs_binary) +
      " or later, this binary knows up to " + std::to_string(latest) + ": roll the binary forward");
}

void LogNewer(const std::string& schema, const SchemaState& s, int latest) {
  LogInfo("schema_newer_expand_only", {{"schema", schema},
                                       {"schema_version", s.version},
                                       {"binary_version", latest},
                                       {"needs_binary", s.needs_binary}});
}

}  // namespace

absl::Status Migrate(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations) {
  CL_ASSIGN_OR_RETURN(Known known, Validate(migrations));
  // Everything runs in one transaction holding a transaction-scoped advisory lock:
  // concurrent migrators wait, then see the finished work.
  return pool.Transact([&](Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(
        tx.Query("SELECT pg_advisory_xact_lock(hashtext($1))", {P("cloudillo-migrate:" + schema)}).status());
    CL_RETURN_IF_ERROR(tx.Query("CREATE SCHEMA IF NOT EXISTS " + schema).status());
    CL_RETURN_IF_ERROR(tx.Query("CREATE TABLE IF NOT EXISTS " + schema +
                                ".schema_migrations (version int PRIMARY KEY, name text NOT NULL, "
                                "applied_at timestamptz NOT NULL DEFAULT now(), "
                                "min_binary_version int NOT NULL DEFAULT 0)")
                           .status());
    // ALTER TABLE locks the table exclusively even when the column exists, which would
    // stall every starting pod's CheckCurrent until this transaction ends: only when missing.
    CL_ASSIGN_OR_RETURN(Result col,
                        tx.Query("SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) "
                                 "AND attname = 'min_binary_version' AND NOT attisdropped",
                                 {P(schema + ".schema_migrations")}));
    if (col.rows[0].Int(0) == 0) {
      CL_RETURN_IF_ERROR(tx.Query("ALTER TABLE " + schema +
                                  ".schema_migrations ADD COLUMN IF NOT EXISTS min_binary_version int "
                                  "NOT NULL DEFAULT 0")
                             .status());
    }
    CL_ASSIGN_OR_RETURN(SchemaState state, ReadState(tx, schema));
    if (state.needs_binary > known.latest) return TooOld(tx, schema, state, known.latest);
    if (state.version > known.latest) {
      LogNewer(schema, state, known.latest);
      return absl::OkStatus();
    }
    for (size_t i = 0; i < migrations.size(); ++i) {
      const Migration& m = migrations[i];
      if (m.version <= state.version) continue;
      CL_RETURN_IF_ERROR(tx.Query("SET LOCAL search_path TO " + schema).status());
      CL_RETURN_IF_ERROR(tx.Query(m.sql).status());
      CL_RETURN_IF_ERROR(
          tx.Query("INSERT INTO " + schema +
                       ".schema_migrations(version, name, min_binary_version) VALUES ($1, $2, $3)",
                   {P(m.version), P(m.name), P(known.min_binary[i])})
              .status());
      LogInfo("migration_applied", {{"schema", schema},
                                    {"version", m.version},
                                    {"name", m.name},
                                    {"min_binary_version", known.min_binary[i]}});
    }
    return absl::OkStatus();
  });
}

absl::Status CheckCurrent(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations) {
  CL_ASSIGN_OR_RETURN(Known known, Validate(migrations));
  CL_ASSIGN_OR_RETURN(Result exists,
                      pool.Query("SELECT to_regclass($1) IS NOT NULL", {P(schema + ".schema_migrations")}));
  SchemaState state;
  if (exists.rows[0].Bool(0)) {
    CL_ASSIGN_OR_RETURN(state, ReadState(pool, schema));
  }
  if (state.version < known.latest) {
    return absl::FailedPreconditionError("schema " + schema + " is at version " +
                                         std::to_string(state.version) + ", this binary needs " +
                                         std::to_string(known.latest) + ": run `migrate` first");
  }
  if (state.needs_binary > known.latest) return TooOld(pool, schema, state, known.latest);
  if (state.version > known.latest) LogNewer(schema, state, known.latest);
  return absl::OkStatus();
}

}  // namespace cloudillo::db
