#include "testing/fake_clock.h"

namespace berth::testing {

FakeClock::FakeClock(absl::Time start) : now_(start), mono_(std::chrono::steady_clock::time_point{}) {}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

std::chrono::steady_clock::time_point FakeClock::MonotonicNow() const {
  absl::MutexLock lock(&mu_);
  return mono_;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
  mono_ += absl::ToChronoNanoseconds(d);
}

}  // namespace berth::testing
