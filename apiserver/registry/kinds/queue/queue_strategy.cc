// File: apiserver/registry/kinds/queue/queue_strategy.cc
// scheduling.berth.dev/v1alpha1 Queue: weight defaults to 1; a queue is not its own parent;
// guaranteed may not exceed max; the namespace selector must parse. Cycles and depth need the
// other queues: the QueueHierarchy admission plugin checks them. Quantities are checked by the
// schema; the status belongs to the scheduler.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/resource/quantity.h"
#include "core/selector/label_selector.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

class Queue final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    json::Value& spec = object["spec"];
    if (!spec.is_object()) spec = json::Value::MakeObject();
    if (spec.Find("weight") == nullptr) spec.Set("weight", int64_t{1});
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    const json::Value* spec = object.Find("spec");
    if (spec == nullptr || !spec->is_object()) return causes;
    std::string name = object.GetString({"metadata", "name"});
    if (std::string parent = spec->GetString({"parent"}); !parent.empty() && parent == name) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", parent, "\": a queue cannot be its own parent"), "spec.parent"});
    }
    const json::Value* guaranteed = spec->Find("guaranteed");
    const json::Value* max = spec->Find("max");
    if (guaranteed && max && guaranteed->is_object() && max->is_object()) {
      for (const auto& [resource, g] : guaranteed->as_object()) {
        const json::Value* m = max->Find(resource);
        if (m == nullptr || resource::MilliOf(&g) <= resource::MilliOf(m)) continue;
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: \"", g.is_string() ? g.as_string() : "", "\": must be less than or equal to max ",
                                 m->is_string() ? m->as_string() : ""),
                          StrCat("spec.guaranteed[", resource, "]")});
      }
    }
    if (const json::Value* sel = spec->Find("namespaceSelector"); sel && sel->is_object()) {
      if (auto parsed = selector::LabelSelector::FromObject(*sel); !parsed.ok()) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: ", parsed.status().message()), "spec.namespaceSelector"});
      }
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> QueueStrategy() { return Make<Queue>(); }

}  // namespace berth::apiserver::registry::kinds
