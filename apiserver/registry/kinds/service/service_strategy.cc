// File: apiserver/registry/kinds/service/service_strategy.cc
// Services: defaults (ClusterIP, ports) and the warning that they are not routed yet.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

// Services are stored and listed (manifests that include one apply, `kubectl get svc` and
// `cluster-info` work) but nothing routes them yet: no cluster IP is allocated and there is no
// service proxy. Creates and updates say so in a Warning header rather than pretending.
class Service final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    json::Value& spec = object.Ensure({"spec"});
    SetIfAbsent(spec, "type", "ClusterIP");
    SetIfAbsent(spec, "sessionAffinity", "None");
    if (json::Value* ports = spec.Find("ports"); ports && ports->is_array()) {
      for (json::Value& p : ports->as_array()) {
        if (!p.is_object()) continue;
        SetIfAbsent(p, "protocol", "TCP");
        if (!p.Find("targetPort") && p.Find("port")) p.Set("targetPort", *p.Find("port"));
      }
    }
  }
  std::vector<std::string> Warnings(const json::Value&) const override {
    return {"Berth stores Services but does not route them yet: no cluster IP is allocated and there is no service proxy"};
  }
};

}  // namespace

std::shared_ptr<const Strategy> ServiceStrategy() { return Make<Service>(); }

}  // namespace berth::apiserver::registry::kinds
