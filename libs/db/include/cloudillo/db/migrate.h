// Versioned migrations beside each service (EXAMPLES.md item 10), written so that binary
// N and binary N+1 can run side by side during a rolling upgrade ("expand/contract").
//
// Each service owns one schema and a list of numbered SQL files
// (services/<name>/migrations/V###__what.sql), embedded into its binary at build time. A
// binary's version is the highest migration it knows. A migration is expand-only unless
// its first line is
//
//   -- min-binary-version: <n>
//
// which makes it a contract step: binaries that know fewer than n migrations must not
// run on a schema that has it (it drops or renames what they use). 1 <= n <= the
// migration's own version. schema_migrations records n per applied migration (0 for
// expand-only), so an older binary can tell whether the newer schema still suits it.
//
// Migrate() applies the missing migrations in order, all in one transaction holding a
// PostgreSQL advisory lock, so concurrent migrators (pods, Jobs) wait and then find the
// work done. CheckCurrent() is what a service calls at startup.
//
// Status codes (both functions):
//   InvalidArgument     the binary's own list is broken: versions not positive and
//                       increasing, or a malformed min-binary-version header (message
//                       names the migration). Checked before the database is touched.
//   FailedPrecondition  CheckCurrent: the schema is older than the binary ("run
//                       `migrate`"). Both: the schema has a contract migration needing a
//                       newer binary (message names the migration and the version).
//   others              from the pool (Unavailable, Internal, ...).
// A schema newer than the binary but expand-only since it is accepted (logged at info).
// A schema_migrations table from before min_binary_version existed counts as all
// expand-only; Migrate adds the column.
//
// Thread-safe as far as the Pool is.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cloudillo/db/pool.h"

namespace cloudillo::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migration's min-binary-version header: n, or 0 when it has none (expand-only).
// InvalidArgument when the first line is a malformed header, n is outside
// [1, m.version], or a later `--` comment line starts like a header (it would be
// ignored there, so the author's intent is unclear).
absl::StatusOr<int> MinBinaryVersion(const Migration& m);

absl::Status Migrate(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations);
absl::Status CheckCurrent(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations);

}  // namespace cloudillo::db
