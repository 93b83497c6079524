// Time as an injectable dependency, so tests control expiry without sleeping.
//
// FormatIsoSeconds() prints the REST form `2025-01-15T12:00:00Z` (PROTOCOL §0.1).
#pragma once

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cloudillo {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  static const Clock& Real();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_;
};

std::string FormatIsoSeconds(absl::Time t);

}  // namespace cloudillo
