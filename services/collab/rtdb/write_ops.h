// How one transaction operation turns its `data` into a document (PROTOCOL §6.4):
// the Firebase-style shallow merge of `update` and the computed values `$op`, `$fn`
// and `$query`, evaluated against the document as the transaction sees it.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "json.h"
#include "rtdb_limits.h"

namespace cloudillo::collab::rtdb {

// Applies `patch` to `target`: top-level keys are set, a nested object replaces the
// old value whole, "a.b" sets a nested field (creating objects on the way), null
// deletes. A non-object patch replaces the target. InvalidArgument when a dot key
// runs through a non-object or has more than max_dot_parts parts or an empty part.
absl::Status ShallowMerge(Json& target, const Json& patch, const Limits& limits);

// Answers a `$query` value: the children of `path` (a collection), optionally filtered.
// `field` is empty for count and exists. Set by the transaction (store.cc) so a query
// reads the transaction's own writes.
struct ComputedQuery {
  std::function<absl::StatusOr<Json>(const std::string& kind, const std::string& path,
                                     const std::string& field, const Json& filter)>
      run;
};

// Replaces every top-level value of `data` that is an object with `$op`, `$fn` or
// `$query` by its result. `current` is the stored document at the operation's path
// (an empty object when there is none). InvalidArgument for an unknown operator or
// function, a missing argument, or an integer overflow.
absl::Status EvaluateComputed(Json& data, const Json& current, const ComputedQuery& query);

}  // namespace cloudillo::collab::rtdb
