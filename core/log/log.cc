#include "core/log/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::log {
namespace {
std::atomic<int> g_min_severity{static_cast<int>(Severity::kInfo)};
}  // namespace

bool Enabled(Severity severity) { return static_cast<int>(severity) >= g_min_severity.load(); }
void SetMinSeverity(Severity severity) { g_min_severity = static_cast<int>(severity); }

void Emit(Severity severity, std::string_view component, const char* file, int line,
          std::string_view message, std::string_view kvs) {
  static constexpr char kLetters[] = {'I', 'W', 'E'};
  std::string_view base(file);
  if (auto slash = base.rfind('/'); slash != std::string_view::npos) base.remove_prefix(slash + 1);
  // Logging must not read the clock through the injected Clock: it is outside any test's time.
  std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  std::string out = StrCat(std::string(1, kLetters[static_cast<int>(severity)]), stamp, " ",
                                 Sv(component), " ", Sv(base), ":", line, "] ", Sv(message), Sv(kvs), "\n");
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace berth::log

namespace berth {
void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "F %s:%d] check failed: %s\n", file, line, cond);
  std::abort();
}
}  // namespace berth
