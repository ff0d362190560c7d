#include "apiserver/registry/kinds/common/strategy_helpers.h"

#include "apiserver/registry/kinds/pod/pod_defaults.h"

namespace berth::apiserver::registry::kinds {

void SetIfAbsent(json::Value& obj, std::string_view key, json::Value v) {
  const json::Value* cur = obj.Find(key);
  if (cur == nullptr || cur->is_null()) obj.Set(key, std::move(v));
}

json::Value* Spec(json::Value& object) {
  json::Value* spec = object.Find("spec");
  return spec && spec->is_object() ? spec : nullptr;
}

void DefaultTemplate(json::Value& object) {
  if (json::Value* spec = Spec(object)) {
    if (json::Value* t = spec->Find("template"); t && t->is_object()) {
      if (json::Value* ps = t->Find("spec")) DefaultPodSpec(*ps);
    }
  }
}

std::vector<api::Cause> TemplateCauses(const json::Value& object) {
  const json::Value* ps = object.Get({"spec", "template", "spec"});
  return ps ? ValidatePodSpec(*ps, "spec.template.spec") : std::vector<api::Cause>{};
}

std::vector<api::Cause> SelectorImmutable(const json::Value& object, const json::Value& old) {
  const json::Value* a = object.Get({"spec", "selector"});
  const json::Value* b = old.Get({"spec", "selector"});
  if (a && b && !(*a == *b)) {
    return {{"FieldValueInvalid", "Invalid value: field is immutable", "spec.selector"}};
  }
  return {};
}

}  // namespace berth::apiserver::registry::kinds
