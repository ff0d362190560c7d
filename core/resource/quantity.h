#pragma once
// File: core/resource/quantity.h
// Kubernetes resource quantities ("100m", "2Gi", "1.5", "1e3", "500M") as integer milli-units,
// exact for every value a pod spec uses.

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::resource {

// Thousandths of the unit: "100m" -> 100, "1" -> 1000, "1Ki" -> 1024000.
absl::StatusOr<int64_t> ParseMilli(std::string_view quantity);
// A quantity field as JSON (string or number); 0 when absent or malformed.
int64_t MilliOf(const json::Value* quantity);

}  // namespace berth::resource
