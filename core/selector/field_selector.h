#pragma once
// File: core/selector/field_selector.h
// Field selectors (`spec.nodeName=n1,status.phase!=Failed`). Which fields a kind supports is
// the registry's decision; this only parses and evaluates.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::selector {

struct FieldRequirement {
  std::string field;  // dotted path: metadata.name
  bool equals = true;
  std::string value;
};

class FieldSelector {
 public:
  FieldSelector() = default;
  static absl::StatusOr<FieldSelector> Parse(std::string_view text);

  // Missing fields compare as the empty string, as Kubernetes' field sets do.
  bool Matches(const json::Value& object) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }

  // The value at a dotted path rendered as a field-set string ("" when absent).
  static std::string FieldValue(const json::Value& object, std::string_view dotted_path);

 private:
  std::vector<FieldRequirement> requirements_;
};

}  // namespace berth::selector
