#pragma once
// File: core/intstr/int_or_percent.h
// Kubernetes' IntOrString fields that mean "a count or a percentage of a total" (maxSurge,
// maxUnavailable, minAvailable): an integer, or a string of digits followed by '%'.

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::intstr {

// OK when `value` is a non-negative integer or a "<digits>%" string (Kubernetes'
// ValidatePositiveIntOrPercent); kInvalidArgument with Kubernetes' message otherwise.
absl::Status ValidateIntOrPercent(const json::Value& value);

// GetScaledValueFromIntOrPercent: an integer as is; "p%" as p * total / 100, rounded up or down.
absl::StatusOr<int64_t> ScaledValue(const json::Value& value, int64_t total, bool round_up);

// ScaledValue, with `fallback` when `value` is absent or invalid (validated objects never are).
int64_t ScaledValueOr(const json::Value* value, int64_t total, bool round_up, int64_t fallback);

}  // namespace berth::intstr
