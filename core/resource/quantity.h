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
// A quantity field as JSON: a string in the grammar above, or a JSON number of units.
absl::StatusOr<int64_t> MilliOfValue(const json::Value& quantity);
// The same, 0 when absent or malformed (for objects the apiserver has already validated).
int64_t MilliOf(const json::Value* quantity);

}  // namespace berth::resource
