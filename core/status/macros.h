#pragma once
// File: core/status/macros.h
// Propagation helpers, named like the newer ABSL_ macros so an Abseil upgrade is a rename.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BERTH_STATUS_CONCAT_INNER(a, b) a##b
#define BERTH_STATUS_CONCAT(a, b) BERTH_STATUS_CONCAT_INNER(a, b)

#define BERTH_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::absl::Status berth_status_ = (expr);          \
    if (!berth_status_.ok()) return berth_status_;  \
  } while (0)

#define BERTH_ASSIGN_OR_RETURN(lhs, rexpr) \
  BERTH_ASSIGN_OR_RETURN_IMPL(BERTH_STATUS_CONCAT(berth_statusor_, __LINE__), lhs, rexpr)

#define BERTH_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                \
  if (!statusor.ok()) return statusor.status();           \
  lhs = std::move(*statusor)

// Crashes on a programmer error: when handling it "seems ridiculous because this should never
// happen" (Envoy).
#define BERTH_CHECK(cond)                                                          \
  do {                                                                             \
    if (!(cond)) ::berth::CheckFailed(__FILE__, __LINE__, #cond);                  \
  } while (0)

namespace berth {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}  // namespace berth
