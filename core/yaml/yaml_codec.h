#pragma once
// File: core/yaml/yaml_codec.h
// YAML manifests to JSON values. Scalars resolve as Kubernetes' YAML library (go-yaml v2,
// YAML 1.1) does, so `replicas: 3` is a number, `enabled: yes` a boolean and `"3"` a string.

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::yaml {

// One value per document ("---" separated); empty documents are skipped.
absl::StatusOr<std::vector<json::Value>> ParseDocuments(std::string_view text, int max_depth = 64);

// Exactly one document: kInvalidArgument for none or several.
absl::StatusOr<json::Value> ParseSingle(std::string_view text, int max_depth = 64);

}  // namespace berth::yaml
