#pragma once
// File: apiserver/registry/kinds/common/strategy_helpers.h
// Small pieces every kind's strategy uses: defaulting helpers, the pod template of workloads,
// and one shared instance per strategy type.

#include <memory>
#include <string_view>
#include <vector>

#include "apiserver/registry/resource_type.h"
#include "core/api/errors.h"
#include "core/json/value.h"

namespace berth::apiserver::registry::kinds {

// Sets `key` unless it is present and not null.
void SetIfAbsent(json::Value& obj, std::string_view key, json::Value v);
// object.spec when it is an object, else nullptr.
json::Value* Spec(json::Value& object);
// Defaults spec.template.spec as a pod spec.
void DefaultTemplate(json::Value& object);
// Validation of spec.template.spec as a pod spec.
std::vector<api::Cause> TemplateCauses(const json::Value& object);
// spec.selector may not change.
std::vector<api::Cause> SelectorImmutable(const json::Value& object, const json::Value& old);

// One shared instance per strategy type: strategies hold no state.
template <typename T>
std::shared_ptr<const Strategy> Make() {
  static auto* s = new std::shared_ptr<const Strategy>(std::make_shared<T>());
  return *s;
}

}  // namespace berth::apiserver::registry::kinds
