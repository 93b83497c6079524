// The deadline of the work a thread is doing for a caller (DESIGN "The gateway never
// blocks": deadlines propagate into services). libs/rpc opens a scope from the gRPC
// call's deadline before running a handler; libs/db reads it to bound how long a
// query may wait for a connection and to set PostgreSQL's statement_timeout, so work
// for a caller that has given up stops instead of holding a connection.
//
// Scopes nest and never extend: an inner scope with a later deadline keeps the outer
// one. Thread-local; no allocation.
#pragma once

#include "absl/time/time.h"

namespace cloudillo {

// InfiniteFuture() when no scope is open on this thread.
absl::Time CurrentDeadline();

class DeadlineScope {
 public:
  explicit DeadlineScope(absl::Time deadline);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  absl::Time previous_;
};

}  // namespace cloudillo
