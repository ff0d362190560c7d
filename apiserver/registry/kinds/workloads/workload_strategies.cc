// File: apiserver/registry/kinds/workloads/workload_strategies.cc
// Deployments, ReplicaSets and DaemonSets: their defaults, a selector that selects the
// template, a valid pod template, and an immutable selector.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/pod/pod_defaults.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

// Deployments, ReplicaSets and DaemonSets: a selector that selects the template, valid pods.
std::vector<api::Cause> ValidateWorkload(const json::Value& object) {
  auto causes = ValidateSelectorMatchesTemplate(object);
  auto more = TemplateCauses(object);
  causes.insert(causes.end(), more.begin(), more.end());
  return causes;
}

// Deployments, ReplicaSets and DaemonSets share their validation; each defaults its own spec.
class Workload : public Strategy {
 public:
  std::vector<api::Cause> Validate(const json::Value& object) const override { return ValidateWorkload(object); }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    return SelectorImmutable(object, old);
  }
};

class Deployment final : public Workload {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      SetIfAbsent(*spec, "replicas", 1);
      SetIfAbsent(*spec, "revisionHistoryLimit", 10);
      SetIfAbsent(*spec, "progressDeadlineSeconds", 600);
      json::Value& strategy = (*spec)["strategy"];
      if (!strategy.is_object()) strategy = json::Value::MakeObject();
      SetIfAbsent(strategy, "type", "RollingUpdate");
      if (strategy.GetString({"type"}) == "RollingUpdate") {
        json::Value& ru = strategy["rollingUpdate"];
        if (!ru.is_object()) ru = json::Value::MakeObject();
        SetIfAbsent(ru, "maxUnavailable", "25%");
        SetIfAbsent(ru, "maxSurge", "25%");
      }
    }
    DefaultTemplate(object);
  }
};

class ReplicaSet final : public Workload {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) SetIfAbsent(*spec, "replicas", 1);
    DefaultTemplate(object);
  }
};

class DaemonSet final : public Workload {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      SetIfAbsent(*spec, "revisionHistoryLimit", 10);
      json::Value& us = (*spec)["updateStrategy"];
      if (!us.is_object()) us = json::Value::MakeObject();
      SetIfAbsent(us, "type", "RollingUpdate");
      if (us.GetString({"type"}) == "RollingUpdate") {
        json::Value& ru = us["rollingUpdate"];
        if (!ru.is_object()) ru = json::Value::MakeObject();
        SetIfAbsent(ru, "maxUnavailable", 1);
        SetIfAbsent(ru, "maxSurge", 0);
      }
    }
    DefaultTemplate(object);
  }
};

}  // namespace

std::shared_ptr<const Strategy> DeploymentStrategy() { return Make<Deployment>(); }
std::shared_ptr<const Strategy> ReplicaSetStrategy() { return Make<ReplicaSet>(); }
std::shared_ptr<const Strategy> DaemonSetStrategy() { return Make<DaemonSet>(); }

}  // namespace berth::apiserver::registry::kinds
