// File: apiserver/registry/kinds/node/node_strategy.cc
// Nodes: agents register them with their status in one create. spec.podCIDR(s) are set once
// (by the nodeipam controller or the creator) and never changed: every agent has routed them.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/json/codec.h"
#include "core/net/ipv4.h"

namespace berth::apiserver::registry::kinds {
namespace {

std::vector<api::Cause> ValidatePodCidrs(const json::Value& node) {
  std::vector<api::Cause> causes;
  std::string cidr = node.GetString({"spec", "podCIDR"});
  if (!cidr.empty()) {
    if (auto p = net::ParseIpv4Prefix(cidr); !p.ok()) {
      causes.push_back({"FieldValueInvalid", absl::StrCat("Invalid value: \"", cidr, "\": ", p.status().message()), "spec.podCIDR"});
    }
  }
  const json::Value* list = node.Get({"spec", "podCIDRs"});
  if (list != nullptr && list->is_array()) {
    const auto& items = list->as_array();
    if (items.size() > 1) causes.push_back({"FieldValueInvalid", "may specify no more than one CIDR (IPv4 only)", "spec.podCIDRs"});
    for (size_t i = 0; i < items.size(); ++i) {
      std::string v = items[i].is_string() ? items[i].as_string() : "";
      if (auto p = net::ParseIpv4Prefix(v); !p.ok()) {
        causes.push_back({"FieldValueInvalid", absl::StrCat("Invalid value: \"", v, "\": ", p.status().message()),
                          absl::StrCat("spec.podCIDRs[", i, "]")});
      }
    }
    if (!items.empty() && !cidr.empty() && items[0].is_string() && items[0].as_string() != cidr) {
      causes.push_back({"FieldValueInvalid", "must match spec.podCIDR", "spec.podCIDRs[0]"});
    }
  }
  return causes;
}

class Node final : public Strategy {
 public:
  // Agents register nodes with their status in one create.
  void PrepareForCreate(json::Value&) const override {}
  void Default(json::Value& object) const override {
    // podCIDRs follows podCIDR, as the API's defaulting does for single-stack nodes.
    json::Value* spec = object.Find("spec");
    if (spec == nullptr || !spec->is_object()) return;
    std::string cidr = spec->GetString({"podCIDR"});
    if (!cidr.empty() && spec->Find("podCIDRs") == nullptr) spec->Set("podCIDRs", json::Value(json::Array{json::Value(cidr)}));
    if (cidr.empty()) {
      if (const json::Value* list = spec->Find("podCIDRs"); list && list->is_array() && !list->as_array().empty() &&
                                                           list->as_array()[0].is_string()) {
        spec->Set("podCIDR", list->as_array()[0].as_string());
      }
    }
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override { return ValidatePodCidrs(object); }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    std::vector<api::Cause> causes = ValidatePodCidrs(object);
    for (const char* field : {"podCIDR", "podCIDRs"}) {
      const json::Value* before = old.Get({"spec", field});
      if (before == nullptr || before->is_null()) continue;  // set once: from nothing is fine
      const json::Value* after = object.Get({"spec", field});
      if (after == nullptr || json::Serialize(*after) != json::Serialize(*before)) {
        causes.push_back({"FieldValueForbidden", absl::StrCat("node updates may not change ", field, " except from \"\" to valid"),
                          absl::StrCat("spec.", field)});
      }
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> NodeStrategy() { return Make<Node>(); }

}  // namespace berth::apiserver::registry::kinds
