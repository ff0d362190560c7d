#pragma once
// File: core/log/log.h
// A small klog-style facade: one line per message on stderr with key=value pairs.
//   BERTH_LOG(INFO, "apiserver", "Listening", "address", addr);
// prints  I2026-01-01T00:00:00.123456Z apiserver main.cc:42] Listening address=127.0.0.1:6443

#include <sstream>
#include <string>
#include <string_view>

namespace berth::log {

enum class Severity { kInfo, kWarning, kError };

void Emit(Severity severity, std::string_view component, const char* file, int line,
          std::string_view message, std::string_view kvs);
bool Enabled(Severity severity);
void SetMinSeverity(Severity severity);

template <typename... Args>
std::string FormatKvs(const Args&... args) {
  std::ostringstream out;
  bool key = true;
  auto one = [&](const auto& a) {
    if (key) out << ' ';
    out << a;
    if (key) out << '=';
    key = !key;
  };
  (one(args), ...);
  (void)one;
  return out.str();
}

}  // namespace berth::log

#define BERTH_LOG(sev, component, msg, ...)                                                  \
  do {                                                                                       \
    if (::berth::log::Enabled(::berth::log::Severity::k##sev))                               \
      ::berth::log::Emit(::berth::log::Severity::k##sev, component, __FILE__, __LINE__, msg, \
                         ::berth::log::FormatKvs(__VA_ARGS__));                              \
  } while (0)
