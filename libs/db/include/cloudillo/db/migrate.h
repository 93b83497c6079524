// Versioned migrations beside each service (EXAMPLES.md item 10).
//
// Each service owns one schema and a list of numbered SQL files
// (services/<name>/migrations/V###__what.sql), embedded into its binary at build time.
// Migrate() applies the missing ones in order, each in its own transaction, under a
// PostgreSQL advisory lock so concurrent pods do not race. CheckCurrent() is what a
// service calls at startup: FailedPrecondition when the database is older (run
// `migrate`) or newer (roll the binary forward) than the binary.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cloudillo/db/pool.h"

namespace cloudillo::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

absl::Status Migrate(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations);
absl::Status CheckCurrent(Pool& pool, const std::string& schema, const std::vector<Migration>& migrations);

}  // namespace cloudillo::db
