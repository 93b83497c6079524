#include "cloudillo/db/migrate.h"

#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::db {
namespace {

absl::StatusOr<int> CurrentVersion(Pool& pool, const std::string& schema) {
  CL_ASSIGN_OR_RETURN(Result exists,
                      pool.Query("SELECT to_regclass($1) IS NOT NULL", {P(schema + ".schema_migrations")}));
  if (!exists.rows[0].Bool(0)) return 0;
  CL_ASSIGN_OR_RETURN(Result r,
                      pool.Query("SELECT coalesce(max(version), 0) FROM " + schema + ".schema_migrations"));
  return int(r.rows[0].Int(0));
}

int Latest(const std::vector<Migration>& m) { return m.empty() ? 0 : m.back().version; }

}  // namespace

absl::Status Migrate(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations) {
  // Everything runs in one transaction holding a transaction-scoped advisory lock:
  // concurrent migrators wait, then see the finished work.
  return pool.Transact([&](Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(
        tx.Query("SELECT pg_advisory_xact_lock(hashtext($1))", {P("cloudillo-migrate:" + schema)}).status());
    CL_RETURN_IF_ERROR(tx.Query("CREATE SCHEMA IF NOT EXISTS " + schema).status());
    CL_RETURN_IF_ERROR(tx.Query("CREATE TABLE IF NOT EXISTS " + schema +
                                ".schema_migrations (version int PRIMARY KEY, name text NOT NULL, "
                                "applied_at timestamptz NOT NULL DEFAULT now())")
                           .status());
    CL_ASSIGN_OR_RETURN(Result r,
                        tx.Query("SELECT coalesce(max(version), 0) FROM " + schema + ".schema_migrations"));
    int current = int(r.rows[0].Int(0));
    if (current > Latest(migrations)) {
      return absl::FailedPreconditionError("schema " + schema + " is at version " + std::to_string(current) +
                                           ", newer than this binary knows");
    }
    for (const auto& m : migrations) {
      if (m.version <= current) continue;
      CL_RETURN_IF_ERROR(tx.Query("SET LOCAL search_path TO " + schema).status());
      CL_RETURN_IF_ERROR(tx.Query(m.sql).status());
      CL_RETURN_IF_ERROR(
          tx.Query("INSERT INTO " + schema + ".schema_migrations(version, name) VALUES ($1, $2)",
                   {P(m.version), P(m.name)})
              .status());
      LogInfo("migration_applied", {{"schema", schema}, {"version", m.version}, {"name", m.name}});
    }
    return absl::OkStatus();
  });
}

absl::Status CheckCurrent(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations) {
  CL_ASSIGN_OR_RETURN(int current, CurrentVersion(pool, schema));
  int latest = Latest(migrations);
  if (current < latest) {
    return absl::FailedPreconditionError("schema " + schema + " is at version " + std::to_string(current) +
                                         ", this binary needs " + std::to_string(latest) +
                                         ": run `migrate` first");
  }
  if (current > latest) {
    return absl::FailedPreconditionError("schema " + schema + " is at version " + std::to_string(current) +
                                         ", newer than this binary (" + std::to_string(latest) + ")");
  }
  return absl::OkStatus();
}

}  // namespace cloudillo::db
