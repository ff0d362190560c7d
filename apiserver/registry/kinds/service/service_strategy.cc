// File: apiserver/registry/kinds/service/service_strategy.cc
// Services: defaults as the API's defaulting functions set them, the rules validation adds to
// the schema, and clusterIP immutable once set. Addresses and NodePorts are allocated by the
// ServiceAllocation admission plugin (registry/admission/service_allocation.h).

#include <set>

#include "absl/strings/str_cat.h"
#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

class Service final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    json::Value& spec = object.Ensure({"spec"});
    SetIfAbsent(spec, "type", "ClusterIP");
    SetIfAbsent(spec, "sessionAffinity", "None");
    if (spec.GetString({"type"}) != "ExternalName") SetIfAbsent(spec, "internalTrafficPolicy", "Cluster");
    if (spec.GetString({"sessionAffinity"}) == "ClientIP" && spec.Get({"sessionAffinityConfig", "clientIP", "timeoutSeconds"}) == nullptr) {
      spec.Ensure({"sessionAffinityConfig", "clientIP"}).Set("timeoutSeconds", 10800);
    }
    if (json::Value* ports = spec.Find("ports"); ports && ports->is_array()) {
      for (json::Value& p : ports->as_array()) {
        if (!p.is_object()) continue;
        SetIfAbsent(p, "protocol", "TCP");
        if (!p.Find("targetPort") && p.Find("port")) p.Set("targetPort", *p.Find("port"));
      }
    }
  }

  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    const std::string type = object.GetString({"spec", "type"}, "ClusterIP");
    const std::string ip = object.GetString({"spec", "clusterIP"});
    if (ip == "None" && (type == "NodePort" || type == "LoadBalancer")) {
      causes.push_back({"FieldValueInvalid", absl::StrCat("Invalid value: \"None\": may not be set to 'None' for ", type, " services"),
                        "spec.clusterIPs[0]"});
    }
    if (type == "ExternalName" && object.GetString({"spec", "externalName"}).empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.externalName"});
    }
    const json::Value* ports = object.Get({"spec", "ports"});
    if ((ports == nullptr || !ports->is_array() || ports->as_array().empty()) && type != "ExternalName" && ip != "None") {
      causes.push_back({"FieldValueRequired", "Required value", "spec.ports"});
    }
    if (ports != nullptr && ports->is_array()) {
      const auto& items = ports->as_array();
      std::set<std::string> names, port_keys;
      for (size_t i = 0; i < items.size(); ++i) {
        std::string name = items[i].GetString({"name"});
        if (items.size() > 1 && name.empty()) {
          causes.push_back({"FieldValueRequired", "Required value", absl::StrCat("spec.ports[", i, "].name")});
        }
        if (!name.empty() && !names.insert(name).second) {
          causes.push_back({"FieldValueDuplicate", absl::StrCat("Duplicate value: \"", name, "\""), absl::StrCat("spec.ports[", i, "].name")});
        }
        const json::Value* port = items[i].Find("port");
        std::string key = absl::StrCat(port && port->is_int() ? port->as_int() : 0, "/", items[i].GetString({"protocol"}, "TCP"));
        if (!port_keys.insert(key).second) {
          causes.push_back({"FieldValueDuplicate", absl::StrCat("Duplicate value: ", key), absl::StrCat("spec.ports[", i, "]")});
        }
        if (const json::Value* target = items[i].Find("targetPort"); target && target->is_int() &&
                                                                      (target->as_int() < 1 || target->as_int() > 65535)) {
          causes.push_back({"FieldValueInvalid", absl::StrCat("Invalid value: ", target->as_int(), ": must be between 1 and 65535, inclusive"),
                            absl::StrCat("spec.ports[", i, "].targetPort")});
        }
      }
    }
    return causes;
  }

  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    std::vector<api::Cause> causes;
    const std::string before = old.GetString({"spec", "clusterIP"});
    const std::string after = object.GetString({"spec", "clusterIP"});
    const bool external = object.GetString({"spec", "type"}) == "ExternalName" || old.GetString({"spec", "type"}) == "ExternalName";
    if (!before.empty() && after != before && !external) {
      causes.push_back({"FieldValueInvalid", "Invalid value: field is immutable", "spec.clusterIPs[0]"});
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> ServiceStrategy() { return Make<Service>(); }

}  // namespace berth::apiserver::registry::kinds
