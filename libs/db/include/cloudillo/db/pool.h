// PostgreSQL access for services: a fixed-size connection pool, parameterised
// queries and transactions. No libpqxx type crosses this header (EXAMPLES.md item 4):
// every libpqxx exception is converted here, by SQLSTATE class, into a Status with a
// generic message (PostgreSQL's own text goes to the log, never into a Status that
// could reach a client):
//
//   unique_violation                -> AlreadyExists
//   foreign_key / check / not_null  -> FailedPrecondition
//   serialization / deadlock, lock  -> Aborted (the caller may retry)
//     timeout (lock_timeout 5 s)
//   statement timeout               -> DeadlineExceeded
//   broken connection, no slot      -> Unavailable
//   data_exception                  -> InvalidArgument
//   anything else                   -> Internal
//
// Deadlines: a query runs under the deadline of the calling thread's DeadlineScope
// (libs/rpc opens one from the gRPC call): waiting for a free connection ends there,
// PostgreSQL's statement_timeout is set to the time left, and a passed deadline is
// DeadlineExceeded without a round trip. Connecting gives up after 5 s.
//
// Thread-safe. A broken connection is replaced on its next use.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
}

namespace cloudillo::db {

// A query parameter: text in PostgreSQL's input syntax, or SQL NULL.
using Param = std::optional<std::string>;
inline Param P(std::string_view s) { return std::string(s); }
inline Param P(const char* s) { return std::string(s); }
inline Param P(const std::string& s) { return s; }
inline Param P(int64_t v) { return std::to_string(v); }
inline Param P(int v) { return std::to_string(v); }
inline Param P(bool v) { return v ? "true" : "false"; }
inline Param Null() { return std::nullopt; }

// Marks a statement PostgreSQL must plan at every execution, against the tables' sizes
// then, instead of the plan a connection caches after a statement's fifth run (its
// "generic" plan, kept until the next ANALYZE). For statements over a table whose size
// swings, a queue above all: a plan cached while the queue was nearly empty reads it
// whole, once per key, when a burst has filled it (37 ms a statement measured with
// 9,000 queued rows). Costs one planning per run, so keep it to batch statements.
std::string PlannedPerCall(std::string_view sql);

class Row {
 public:
  explicit Row(std::vector<std::optional<std::string>> cols) : cols_(std::move(cols)) {}
  bool IsNull(size_t i) const { return !cols_.at(i).has_value(); }
  const std::string& Str(size_t i) const;  // "" for NULL
  int64_t Int(size_t i) const;             // 0 for NULL
  bool Bool(size_t i) const;               // false for NULL
  std::optional<std::string> Opt(size_t i) const { return cols_.at(i); }
  size_t size() const { return cols_.size(); }

 private:
  std::vector<std::optional<std::string>> cols_;
};

struct Result {
  std::vector<Row> rows;
  int64_t affected = 0;
  bool empty() const { return rows.empty(); }
};

class Tx {
 public:
  virtual ~Tx() = default;
  virtual absl::StatusOr<Result> Query(std::string_view sql, const std::vector<Param>& params = {}) = 0;
};

class Pool {
 public:
  // Fails with Unavailable when the first connection cannot be opened. `schema`, when
  // given, is the search_path of every connection: a service names its tables
  // unqualified and so can only reach its own schema by accident-free default.
  static absl::StatusOr<std::shared_ptr<Pool>> Connect(const std::string& url, int size,
                                                       const std::string& schema = "");
  virtual ~Pool() = default;

  virtual absl::StatusOr<Result> Query(std::string_view sql, const std::vector<Param>& params = {}) = 0;
  // Runs `fn` in one transaction: commits when it returns OK, rolls back otherwise.
  virtual absl::Status Transact(const std::function<absl::Status(Tx&)>& fn) = 0;
  // A cheap round trip, for /readyz.
  virtual absl::Status Ping() = 0;
  // Exports the cloudillo_db_pool_* metrics labelled pool=`name` (the schema: one
  // process may hold several pools; never a tenant). Call once, before serving.
  virtual void ExportMetrics(prometheus::Registry& registry, const std::string& name) = 0;
};

}  // namespace cloudillo::db
