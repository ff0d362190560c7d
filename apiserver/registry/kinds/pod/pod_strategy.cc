// File: apiserver/registry/kinds/pod/pod_strategy.cc
// Pods: defaults, status at creation (Pending, QoS class), validation, the update rules and
// graceful deletion of bound pods.

#include <algorithm>

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/pod/pod_defaults.h"
#include "apiserver/registry/kinds/strategies.h"

#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

class Pod final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      DefaultPodSpec(*spec);
      DefaultPodRequests(*spec);
    }
  }
  void PrepareForCreate(json::Value& object) const override {
    json::Value status = json::Value::MakeObject();
    status.Set("phase", "Pending");
    const json::Value* spec = object.Find("spec");
    status.Set("qosClass", spec ? QosClass(*spec) : "BestEffort");
    object.Set("status", std::move(status));
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    const json::Value* spec = object.Find("spec");
    return spec ? ValidatePodSpec(*spec, "spec") : std::vector<api::Cause>{};
  }
  // Bound pods end gracefully: the agent stops the processes, then deletes with grace 0.
  // Unbound or finished pods go at once.
  int64_t GracefulDeletionSeconds(const json::Value& object, std::optional<int64_t> requested) const override {
    const json::Value* tgp = object.Get({"spec", "terminationGracePeriodSeconds"});
    int64_t grace = requested.value_or(tgp && tgp->is_int() ? tgp->as_int() : 30);
    std::string phase = object.GetString({"status", "phase"});
    bool bound = !object.GetString({"spec", "nodeName"}).empty();
    return bound && phase != "Succeeded" && phase != "Failed" ? std::max<int64_t>(grace, 0) : 0;
  }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    // Kubernetes lets a pod update change only images, activeDeadlineSeconds, tolerations
    // and terminationGracePeriodSeconds.
    auto strip = [](const json::Value* spec) {
      json::Value s = spec ? *spec : json::Value::MakeObject();
      DefaultPodRequests(s);  // a pod stored before requests were defaulted compares equal
      for (const char* list : {"containers", "initContainers"}) {
        if (json::Value* cs = s.Find(list); cs && cs->is_array()) {
          for (json::Value& c : cs->as_array()) c.Erase("image");
        }
      }
      for (const char* f : {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"}) {
        s.Erase(f);
      }
      return s;
    };
    // Scheduling gates may only be removed (ValidatePodUpdate: "only deletion is allowed").
    auto gates = [](const json::Value& pod) {
      std::vector<std::string> names;
      if (const json::Value* g = pod.Get({"spec", "schedulingGates"}); g && g->is_array()) {
        for (const json::Value& gate : g->as_array()) names.push_back(gate.GetString({"name"}));
      }
      return names;
    };
    std::vector<std::string> before = gates(old);
    for (const std::string& name : gates(object)) {
      if (std::find(before.begin(), before.end(), name) == before.end()) {
        return {{"FieldValueForbidden", StrCat("Forbidden: only deletion is allowed, but found new scheduling gate '", name, "'"),
                 "spec.schedulingGates"}};
      }
    }
    if (!(strip(object.Find("spec")) == strip(old.Find("spec")))) {
      return {{"FieldValueForbidden",
               "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
               "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` "
               "(only additions to existing tolerations), `spec.terminationGracePeriodSeconds`",
               "spec"}};
    }
    return {};
  }
};

}  // namespace

std::shared_ptr<const Strategy> PodStrategy() { return Make<Pod>(); }

}  // namespace berth::apiserver::registry::kinds
