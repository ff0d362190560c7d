// File: apiserver/registry/kinds/networkpolicy/networkpolicy_strategy.cc
// networking.k8s.io/v1 NetworkPolicy: policyTypes defaulted as the API does (Ingress, plus
// Egress when egress rules are given), and the rules validation adds to the schema: CIDRs,
// `except` inside its `cidr`, ports 1-65535, endPort only with a numeric port not below it, a
// peer naming at least one selector or an ipBlock (not both).

#include "absl/strings/str_cat.h"
#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/net/ipv4.h"

namespace berth::apiserver::registry::kinds {
namespace {

using absl::StrCat;

void ValidatePeers(const json::Value* peers, const std::string& path, std::vector<api::Cause>& causes) {
  if (peers == nullptr || !peers->is_array()) return;
  for (size_t i = 0; i < peers->as_array().size(); ++i) {
    const json::Value& peer = peers->as_array()[i];
    const std::string at = StrCat(path, "[", i, "]");
    const json::Value* block = peer.Find("ipBlock");
    bool selectors = peer.Find("podSelector") != nullptr || peer.Find("namespaceSelector") != nullptr;
    if (block == nullptr && !selectors) {
      causes.push_back({"FieldValueRequired", "Required value: must specify a peer", at});
      continue;
    }
    if (block != nullptr && selectors) {
      causes.push_back({"FieldValueForbidden", "Forbidden: may not specify more than 1 peer type", at});
      continue;
    }
    if (block == nullptr) continue;
    std::string cidr = block->GetString({"cidr"});
    auto prefix = net::ParseIpv4Prefix(cidr, true);
    if (!prefix.ok()) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", cidr, "\": must be a valid CIDR"), at + ".ipBlock.cidr"});
      continue;
    }
    if (const json::Value* except = block->Find("except"); except && except->is_array()) {
      for (size_t j = 0; j < except->as_array().size(); ++j) {
        const json::Value& e = except->as_array()[j];
        std::string text = e.is_string() ? e.as_string() : "";
        auto inner = net::ParseIpv4Prefix(text, true);
        const std::string field = StrCat(at, ".ipBlock.except[", j, "]");
        if (!inner.ok()) {
          causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", text, "\": must be a valid CIDR"), field});
        } else if (!prefix->Contains(*inner) || inner->length <= prefix->length) {
          causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", text, "\": must be a strict subset of `cidr`"), field});
        }
      }
    }
  }
}

void ValidatePorts(const json::Value* ports, const std::string& path, std::vector<api::Cause>& causes) {
  if (ports == nullptr || !ports->is_array()) return;
  for (size_t i = 0; i < ports->as_array().size(); ++i) {
    const json::Value& p = ports->as_array()[i];
    const std::string at = StrCat(path, "[", i, "]");
    const json::Value* port = p.Find("port");
    const json::Value* end = p.Find("endPort");
    if (port != nullptr && port->is_int() && (port->as_int() < 1 || port->as_int() > 65535)) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: ", port->as_int(), ": must be between 1 and 65535, inclusive"),
                        at + ".port"});
    }
    if (end != nullptr && end->is_int()) {
      if (port == nullptr || !port->is_int()) {
        causes.push_back({"FieldValueRequired", "Required value: may not be specified when `port` is non-numeric", at + ".endPort"});
      } else if (end->as_int() < port->as_int()) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: ", end->as_int(), ": must be greater than or equal to `port`"),
                          at + ".endPort"});
      }
    }
  }
}

class NetworkPolicy final : public Strategy {
 public:
  void PrepareForCreate(json::Value&) const override {}
  void Default(json::Value& object) const override {
    json::Value& spec = object.Ensure({"spec"});
    if (spec.Find("policyTypes") == nullptr) {
      json::Value types = json::Value::MakeArray();
      types.as_array().push_back(json::Value("Ingress"));
      if (spec.Find("egress") != nullptr) types.as_array().push_back(json::Value("Egress"));
      spec.Set("policyTypes", std::move(types));
    }
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    for (const char* dir : {"ingress", "egress"}) {
      const json::Value* rules = object.Get({"spec", dir});
      if (rules == nullptr || !rules->is_array()) continue;
      for (size_t i = 0; i < rules->as_array().size(); ++i) {
        const json::Value& r = rules->as_array()[i];
        const std::string at = StrCat("spec.", dir, "[", i, "]");
        ValidatePeers(r.Find(std::string(dir) == "ingress" ? "from" : "to"), at + (std::string(dir) == "ingress" ? ".from" : ".to"), causes);
        ValidatePorts(r.Find("ports"), at + ".ports", causes);
      }
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> NetworkPolicyStrategy() { return Make<NetworkPolicy>(); }

}  // namespace berth::apiserver::registry::kinds
