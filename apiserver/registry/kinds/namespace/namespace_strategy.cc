// File: apiserver/registry/kinds/namespace/namespace_strategy.cc
// Namespaces: the kubernetes finalizer and name label, Active at creation, Terminating until
// the namespace controller has emptied them.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

class Namespace final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    json::Value& spec = object["spec"];
    if (!spec.is_object()) spec = json::Value::MakeObject();
    if (spec.Find("finalizers") == nullptr) {
      json::Value f = json::Value::MakeArray();
      f.as_array().push_back("kubernetes");
      spec.Set("finalizers", std::move(f));
    }
    // The name label Kubernetes sets on every namespace.
    object.Ensure({"metadata", "labels"}).Set("kubernetes.io/metadata.name", object.GetString({"metadata", "name"}));
  }
  void PrepareForCreate(json::Value& object) const override {
    json::Value status = json::Value::MakeObject();
    status.Set("phase", "Active");
    object.Set("status", std::move(status));
  }
  NameRule Naming() const override { return NameRule::kLabel; }
  // A namespace waits for its content to go: until /finalize empties spec.finalizers.
  bool DeletionPending(const json::Value& object) const override {
    const json::Value* f = object.Get({"spec", "finalizers"});
    return f && f->is_array() && f->size() > 0;
  }
  void PrepareForDeletion(json::Value& object) const override { object.Ensure({"status"}).Set("phase", "Terminating"); }
};

}  // namespace

std::shared_ptr<const Strategy> NamespaceStrategy() { return Make<Namespace>(); }

}  // namespace berth::apiserver::registry::kinds
