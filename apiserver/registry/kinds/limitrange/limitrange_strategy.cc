// File: apiserver/registry/kinds/limitrange/limitrange_strategy.cc
// v1 LimitRange (SetDefaults_LimitRangeItem, ValidateLimitRange): a Container item's max becomes
// its default limit and its default limit its default request when unset; Pod items take no
// defaults; min <= default request <= default limit <= max for every resource.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/resource/quantity.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

class LimitRange final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    json::Value* limits = object.Get({"spec", "limits"}) ? &object["spec"]["limits"] : nullptr;
    if (limits == nullptr || !limits->is_array()) return;
    for (json::Value& item : limits->as_array()) {
      if (!item.is_object() || item.GetString({"type"}) != "Container") continue;
      for (const auto& [from, to] : {std::pair<const char*, const char*>{"max", "default"}, {"default", "defaultRequest"}}) {
        const json::Value* source = item.Find(from);
        if (source == nullptr || !source->is_object()) continue;
        json::Value copy = *source;
        json::Value& target = item[to];
        if (!target.is_object()) target = json::Value::MakeObject();
        for (const auto& [name, q] : copy.as_object()) {
          if (target.Find(name) == nullptr) target.Set(name, q);
        }
      }
    }
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    const json::Value* limits = object.Get({"spec", "limits"});
    if (limits == nullptr || !limits->is_array()) return causes;
    for (size_t i = 0; i < limits->size(); ++i) {
      const json::Value& item = limits->as_array()[i];
      std::string path = StrCat("spec.limits[", i, "]");
      if (item.GetString({"type"}) == "Pod") {
        for (const char* f : {"default", "defaultRequest"}) {
          if (item.Find(f)) {
            causes.push_back({"FieldValueForbidden", "Forbidden: may not be specified when `type` is 'Pod'", StrCat(path, ".", f)});
          }
        }
      }
      // (lower, upper, message): each pair of bounds that must be ordered.
      struct Order {
        const char* lower;
        const char* upper;
        const char* what;
      };
      for (const Order& o : {Order{"min", "max", "min value %s is greater than max value %s"},
                             Order{"defaultRequest", "default", "default request value %s is greater than default limit value %s"},
                             Order{"default", "max", "default value %s is greater than max value %s"},
                             Order{"min", "defaultRequest", "min value %s is greater than default request value %s"}}) {
        const json::Value* low = item.Find(o.lower);
        const json::Value* high = item.Find(o.upper);
        if (low == nullptr || high == nullptr || !low->is_object() || !high->is_object()) continue;
        for (const auto& [name, q] : low->as_object()) {
          const json::Value* h = high->Find(name);
          if (h == nullptr || resource::MilliOf(&q) <= resource::MilliOf(h)) continue;
          std::string text = o.what;
          std::string l = q.is_string() ? q.as_string() : "", u = h->is_string() ? h->as_string() : "";
          text.replace(text.find("%s"), 2, l);
          text.replace(text.find("%s"), 2, u);
          causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", l, "\": ", text), StrCat(path, ".", o.lower, "[", name, "]")});
        }
      }
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> LimitRangeStrategy() { return Make<LimitRange>(); }

}  // namespace berth::apiserver::registry::kinds
