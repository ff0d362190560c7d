#pragma once
// File: core/time/clock.h
// The only place that reads the wall or monotonic clock. Everything else takes a `Clock&`, so
// tests drive time with testing/fake_clock.h instead of sleeping.

#include <chrono>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace berth {

class Clock {
 public:
  virtual ~Clock() = default;
  // Timestamps (creationTimestamp, conditions). Thread-safe.
  virtual absl::Time Now() const = 0;
  // Intervals, deadlines and backoff. Thread-safe.
  virtual std::chrono::steady_clock::time_point MonotonicNow() const = 0;
  // Waits (retry backoff). A fake clock advances instead of waiting.
  virtual void SleepFor(absl::Duration d) const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override;
  std::chrono::steady_clock::time_point MonotonicNow() const override;
  void SleepFor(absl::Duration d) const override;
  static RealClock& Get();
};

// RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time: 2025-01-01T00:00:00Z.
std::string FormatRfc3339(absl::Time t);
// With nanoseconds, as CRI log lines and metav1.MicroTime-like fields carry them.
std::string FormatRfc3339Nano(absl::Time t);
// Parses metav1.Time (RFC 3339); `fallback` when empty or malformed.
absl::Time ParseRfc3339(std::string_view s, absl::Time fallback);
// Kubernetes' humanized age for Table cells ("5s", "3m2s", "2d").
std::string HumanDuration(absl::Duration d);

}  // namespace berth
