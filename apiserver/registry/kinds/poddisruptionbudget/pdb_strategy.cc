// File: apiserver/registry/kinds/poddisruptionbudget/pdb_strategy.cc
// policy/v1 PodDisruptionBudget (ValidatePodDisruptionBudgetSpec): minAvailable or
// maxUnavailable, not both, each a non-negative integer or a percentage up to 100%; the
// selector must parse. A new budget starts with an empty status (the disruption controller
// fills it).

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "absl/strings/numbers.h"
#include "core/selector/label_selector.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

void ValidateBound(const json::Value& spec, const char* field, std::vector<api::Cause>& causes) {
  const json::Value* v = spec.Find(field);
  if (v == nullptr) return;
  std::string path = StrCat("spec.", field);
  if (v->is_int()) {
    if (v->as_int() < 0) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: ", v->as_int(), ": must be greater than or equal to 0"), path});
    }
    return;
  }
  if (v->is_string()) {
    const std::string& s = v->as_string();
    int64_t pct = 0;
    if (s.ends_with('%') && absl::SimpleAtoi(s.substr(0, s.size() - 1), &pct) && pct > 100) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", s, "\": must not be greater than 100%"), path});
    }
  }
}

class PodDisruptionBudget final : public Strategy {
 public:
  void PrepareForCreate(json::Value& object) const override {
    Strategy::PrepareForCreate(object);
    object.Set("status", json::Value::MakeObject());
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    const json::Value* spec = object.Find("spec");
    if (spec == nullptr || !spec->is_object()) return causes;
    if (spec->Find("minAvailable") && spec->Find("maxUnavailable")) {
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and maxUnavailable cannot be both set",
                        "spec"});
    }
    ValidateBound(*spec, "minAvailable", causes);
    ValidateBound(*spec, "maxUnavailable", causes);
    if (const json::Value* sel = spec->Find("selector"); sel && sel->is_object()) {
      if (auto parsed = selector::LabelSelector::FromObject(*sel); !parsed.ok()) {
        causes.push_back({"FieldValueInvalid", std::string(parsed.status().message()), "spec.selector"});
      }
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> PodDisruptionBudgetStrategy() { return Make<PodDisruptionBudget>(); }

}  // namespace berth::apiserver::registry::kinds
