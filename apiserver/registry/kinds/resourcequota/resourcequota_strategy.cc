// File: apiserver/registry/kinds/resourcequota/resourcequota_strategy.cc
// v1 ResourceQuota (ValidateResourceQuota): scope selector expressions with In/NotIn need
// values; the BestEffort scopes track only pods. Quantities are checked by the schema; the
// status belongs to the quota controller and to quota admission.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

class ResourceQuota final : public Strategy {
 public:
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    const json::Value* spec = object.Find("spec");
    if (spec == nullptr || !spec->is_object()) return causes;
    bool best_effort = false;
    if (const json::Value* scopes = spec->Find("scopes"); scopes && scopes->is_array()) {
      for (const json::Value& s : scopes->as_array()) {
        if (s.is_string() && (s.as_string() == "BestEffort" || s.as_string() == "NotBestEffort")) best_effort = true;
      }
    }
    if (const json::Value* exprs = spec->Get({"scopeSelector", "matchExpressions"}); exprs && exprs->is_array()) {
      for (size_t i = 0; i < exprs->size(); ++i) {
        const json::Value& e = exprs->as_array()[i];
        std::string op = e.GetString({"operator"});
        const json::Value* values = e.Find("values");
        size_t n = values && values->is_array() ? values->size() : 0;
        std::string field = StrCat("spec.scopeSelector.matchExpressions[", i, "].values");
        if ((op == "In" || op == "NotIn") && n == 0) {
          causes.push_back({"FieldValueRequired",
                            "Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                            field});
        } else if ((op == "Exists" || op == "DoesNotExist") && n > 0) {
          causes.push_back({"FieldValueInvalid",
                            "Invalid value: must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                            field});
        }
        std::string scope = e.GetString({"scopeName"});
        if (scope == "BestEffort" || scope == "NotBestEffort") best_effort = true;
      }
    }
    if (best_effort) {
      if (const json::Value* hard = spec->Find("hard"); hard && hard->is_object()) {
        for (const auto& [name, q] : hard->as_object()) {
          if (name != "pods" && name != "count/pods") {
            causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", name, "\": unsupported scope applied to resource"),
                              StrCat("spec.hard[", name, "]")});
          }
        }
      }
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> ResourceQuotaStrategy() { return Make<ResourceQuota>(); }

}  // namespace berth::apiserver::registry::kinds
