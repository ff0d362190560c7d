#pragma once
// File: testing/fake_clock.h
// A Clock that moves only when a test advances it.

#include "absl/synchronization/mutex.h"
#include "core/time/clock.h"

namespace berth::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1767225600));  // 2026-01-01
  absl::Time Now() const override;
  std::chrono::steady_clock::time_point MonotonicNow() const override;
  // Sleeping on a fake clock moves it forward, so code that backs off finishes at once.
  void SleepFor(absl::Duration d) const override { const_cast<FakeClock*>(this)->Advance(d); }
  void Advance(absl::Duration d);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point mono_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::testing
