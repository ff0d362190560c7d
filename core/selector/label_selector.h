#pragma once
// File: core/selector/label_selector.h
// Kubernetes label selectors in their string form (`app=web,tier in (fe,be),!legacy`) and in
// their structured form (`matchLabels` + `matchExpressions`).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::selector {

struct Requirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  // Everything matches an empty selector.
  LabelSelector() = default;

  // kInvalidArgument naming the bad requirement.
  static absl::StatusOr<LabelSelector> Parse(std::string_view text);
  // From a metav1.LabelSelector object; kInvalidArgument on unknown operators.
  static absl::StatusOr<LabelSelector> FromObject(const json::Value& selector);

  // `labels` is the metadata.labels object (or null).
  bool Matches(const json::Value& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  std::string ToString() const;

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace berth::selector
