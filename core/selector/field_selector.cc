#include "core/selector/field_selector.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/strings/strings.h"

namespace berth::selector {

absl::StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector sel;
  if (Strip(text).empty()) return sel;
  for (std::string_view part : Split(text, ',')) {
    part = Strip(part);
    FieldRequirement r;
    size_t pos;
    size_t len;
    if ((pos = part.find("!=")) != std::string_view::npos) {
      r.equals = false;
      len = 2;
    } else if ((pos = part.find("==")) != std::string_view::npos) {
      len = 2;
    } else if ((pos = part.find('=')) != std::string_view::npos) {
      len = 1;
    } else {
      return absl::InvalidArgumentError(
          StrCat("invalid field selector requirement \"", part, "\": expected = or !="));
    }
    r.field = std::string(Strip(part.substr(0, pos)));
    r.value = std::string(Strip(part.substr(pos + len)));
    if (r.field.empty()) {
      return absl::InvalidArgumentError(
          StrCat("invalid field selector requirement \"", part, "\": empty field"));
    }
    sel.requirements_.push_back(std::move(r));
  }
  return sel;
}

std::string FieldSelector::FieldValue(const json::Value& object, std::string_view dotted_path) {
  const json::Value* cur = &object;
  for (std::string_view step : Split(dotted_path, '.')) {
    cur = cur->Find(step);
    if (cur == nullptr) return "";
  }
  if (cur->is_string()) return cur->as_string();
  if (cur->is_bool()) return cur->as_bool() ? "true" : "false";
  if (cur->is_int()) return StrCat(cur->as_int());
  return "";
}

bool FieldSelector::Matches(const json::Value& object) const {
  for (const FieldRequirement& r : requirements_) {
    bool eq = FieldValue(object, r.field) == r.value;
    if (eq != r.equals) return false;
  }
  return true;
}

}  // namespace berth::selector
