// File: apiserver/registry/kinds/priorityclass/priorityclass_strategy.cc
// PriorityClasses: preemptionPolicy defaults to PreemptLowerPriority.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

class PriorityClass final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    SetIfAbsent(object, "preemptionPolicy", "PreemptLowerPriority");
  }
};

}  // namespace

std::shared_ptr<const Strategy> PriorityClassStrategy() { return Make<PriorityClass>(); }

}  // namespace berth::apiserver::registry::kinds
