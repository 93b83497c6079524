// The read options of `query` and `subscribe` (PROTOCOL §6.3, §6.4): filter, sort,
// limit/offset, aggregate and select. Parsing follows the reference's serde shapes: an
// option that does not decode is silently ignored (the whole filter, sort entry or
// aggregate), never rejected. Field names are top-level document keys; they reach SQL
// only as bound parameters (store.cc), so no name can change a statement.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "json.h"
#include "rtdb_limits.h"

namespace cloudillo::collab::rtdb {

struct Condition {
  enum class Op {
    kEquals,
    kNotEquals,
    kGreaterThan,
    kGreaterThanOrEqual,
    kLessThan,
    kLessThanOrEqual,
    kInArray,
    kNotInArray,
    kArrayContains,
    kArrayContainsAny,
    kArrayContainsAll,
  };
  Op op;
  std::string field;
  Json value;  // an array for the *InArray / *Any / *All operators
};

struct Filter {
  std::vector<Condition> conditions;  // all must hold
  bool empty() const { return conditions.empty(); }
  // The same semantics as the SQL of store.cc, for live events.
  bool Matches(const Json& doc) const;
};

struct SortKey {
  std::string field;
  bool ascending = true;
};

struct AggregateOp {
  enum class Kind { kSum, kAvg, kMin, kMax };
  Kind kind;
  std::string field;
};

struct AggregateSpec {
  std::string group_by;
  std::vector<AggregateOp> ops;
  // min and max cannot be maintained from deltas: subscriptions recompute and send
  // the whole group set as `replace` (§6.5).
  bool HasMinMax() const;
};

struct ReadOptions {
  std::optional<Filter> filter;
  std::vector<SortKey> sort;
  int64_t limit = 0;  // 0: the cap
  int64_t offset = 0;
  std::optional<AggregateSpec> aggregate;
  std::vector<std::string> select;  // empty: whole documents
};

// nullopt when `v` does not decode as a filter (then it is ignored).
std::optional<Filter> ParseFilter(const Json& v, const Limits& limits);
std::optional<AggregateSpec> ParseAggregate(const Json& v, const Limits& limits);
// Reads filter, sort, limit, offset, aggregate and select from a command frame.
ReadOptions ParseReadOptions(const Json& frame, const Limits& limits);

// The reference's ordering of two JSON values (numbers numerically, strings and
// booleans by value, anything else by serialised text; missing sorts first).
int CompareJson(const Json* a, const Json* b);

// `doc` reduced to `id` plus the selected fields; `doc` itself when select is empty.
Json Project(const Json& doc, const std::vector<std::string>& select);

// Groups rows by spec.group_by (an array value puts the row in every group of its
// scalar elements; null or missing in none). Output per group: group, count,
// sum_<f>, avg_<f>, min_<f>, max_<f>; sorted by count, largest first; at most
// `max_groups` groups.
class Aggregator {
 public:
  Aggregator(const AggregateSpec& spec, size_t max_groups) : spec_(spec), max_groups_(max_groups) {}
  void Add(const Json& doc);
  std::vector<Json> Result() const;

 private:
  struct Group {
    int64_t count = 0;
    std::vector<double> sum, min, max;
    std::vector<int64_t> n;
  };
  const AggregateSpec& spec_;
  size_t max_groups_;
  std::vector<std::pair<std::string, Group>> groups_;  // first-seen order, linear: bounded
};

std::string GroupKey(const Json& v);

}  // namespace cloudillo::collab::rtdb
