// File: apiserver/registry/kinds/priorityclass/priorityclass_strategy.cc
// PriorityClasses: preemptionPolicy defaults to PreemptLowerPriority; names starting with
// "system-" are reserved for the system classes, whose values are the only ones above 1e9;
// value and preemptionPolicy never change (ValidatePriorityClass / ValidatePriorityClassUpdate).

#include "apiserver/registry/admission/priority.h"
#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

class PriorityClass final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    SetIfAbsent(object, "preemptionPolicy", "PreemptLowerPriority");
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::string name = object.GetString({"metadata", "name"});
    const json::Value* v = object.Find("value");
    int64_t value = v && v->is_int() ? v->as_int() : 0;
    const json::Value* d = object.Find("globalDefault");
    bool global_default = d && d->is_bool() && d->as_bool();
    if (name.rfind("system-", 0) == 0) {
      if (std::string why = SystemPriorityClassError(name, value, global_default); !why.empty()) {
        return {{"FieldValueForbidden",
                 StrCat("Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: ", why),
                 "metadata.name"}};
      }
    } else if (value > kHighestUserDefinablePriority) {
      return {{"FieldValueForbidden",
               StrCat("Forbidden: maximum allowed value of a user defined priority is ", kHighestUserDefinablePriority), "value"}};
    }
    return {};
  }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    std::vector<api::Cause> causes;
    for (const char* f : {"value", "preemptionPolicy"}) {
      const json::Value* now = object.Find(f);
      const json::Value* was = old.Find(f);
      if ((now == nullptr) != (was == nullptr) || (now && !(*now == *was))) {
        causes.push_back({"FieldValueForbidden", "Forbidden: may not be changed in an update.", f});
      }
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> PriorityClassStrategy() { return Make<PriorityClass>(); }

}  // namespace berth::apiserver::registry::kinds
