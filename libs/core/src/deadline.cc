#include "cloudillo/core/deadline.h"

namespace cloudillo {
namespace {
thread_local absl::Time t_deadline = absl::InfiniteFuture();
}  // namespace

absl::Time CurrentDeadline() { return t_deadline; }

DeadlineScope::DeadlineScope(absl::Time deadline) : previous_(t_deadline) {
  if (deadline < t_deadline) t_deadline = deadline;
}

DeadlineScope::~DeadlineScope() { t_deadline = previous_; }

}  // namespace cloudillo
