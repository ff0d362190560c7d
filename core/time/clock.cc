#include "core/time/clock.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/strings/strings.h"

namespace berth {

absl::Time RealClock::Now() const { return absl::Now(); }

std::chrono::steady_clock::time_point RealClock::MonotonicNow() const {
  return std::chrono::steady_clock::now();
}

void RealClock::SleepFor(absl::Duration d) const { absl::SleepFor(d); }

RealClock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string FormatRfc3339Nano(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone());
}

absl::Time ParseRfc3339(std::string_view s, absl::Time fallback) {
  absl::Time t;
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, std::string(s), &t, &err) ? t : fallback;
}

std::string HumanDuration(absl::Duration d) {
  // Mirrors k8s.io/apimachinery/pkg/util/duration.HumanDuration.
  int64_t seconds = absl::ToInt64Seconds(d);
  // Up to a second in the future is clock skew between machines, not an error.
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return StrCat(seconds, "s");
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    return s == 0 ? StrCat(minutes, "m") : StrCat(minutes, "m", s, "s");
  }
  if (minutes < 60 * 3) return StrCat(minutes, "m");
  int64_t hours = minutes / 60;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return m == 0 ? StrCat(hours, "h") : StrCat(hours, "h", m, "m");
  }
  if (hours < 48) return StrCat(hours, "h");
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return h == 0 ? StrCat(hours / 24, "d") : StrCat(hours / 24, "d", h, "h");
  }
  if (hours < 24 * 365 * 2) return StrCat(hours / 24, "d");
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    return dy == 0 ? StrCat(hours / 24 / 365, "y")
                   : StrCat(hours / 24 / 365, "y", dy, "d");
  }
  return StrCat(hours / 24 / 365, "y");
}

}  // namespace berth
