// File: kubelet-like-agent/network/network_policy.cc
#include "kubelet-like-agent/network/network_policy.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/net/ipv4.h"
#include "core/selector/label_selector.h"

namespace berth::agent::network {
namespace {

using absl::StrCat;

struct PodInfo {
  const json::Value* pod;
  std::string ns, ip, node;
};

bool Matches(const json::Value* selector, const json::Value& labels) {
  if (selector == nullptr) return true;
  auto parsed = selector::LabelSelector::FromObject(*selector);
  return parsed.ok() && parsed->Matches(labels);
}

json::Value NamespaceLabels(const std::map<std::string, const json::Value*>& namespaces, const std::string& name) {
  json::Value labels = json::Value::MakeObject();
  auto it = namespaces.find(name);
  if (it != namespaces.end()) {
    if (const json::Value* l = it->second->Get({"metadata", "labels"}); l && l->is_object()) labels = *l;
  }
  // Set on every namespace by the API since 1.21: policies select namespaces by name with it.
  labels.Set("kubernetes.io/metadata.name", name);
  return labels;
}

json::Value LabelsOf(const json::Value& object) {
  const json::Value* l = object.Get({"metadata", "labels"});
  return l && l->is_object() ? *l : json::Value::MakeObject();
}

// The numbers a named port stands for among `pods`' containers.
std::set<int64_t> ResolveNamedPort(const std::string& name, const std::string& protocol, const std::vector<const PodInfo*>& pods) {
  std::set<int64_t> out;
  for (const PodInfo* p : pods) {
    for (const char* field : {"containers", "initContainers"}) {
      const json::Value* containers = p->pod->Get({"spec", field});
      if (containers == nullptr || !containers->is_array()) continue;
      for (const json::Value& c : containers->as_array()) {
        const json::Value* ports = c.Find("ports");
        if (ports == nullptr || !ports->is_array()) continue;
        for (const json::Value& port : ports->as_array()) {
          const json::Value* number = port.Find("containerPort");
          if (port.GetString({"name"}) == name && port.GetString({"protocol"}, "TCP") == protocol && number && number->is_int()) {
            out.insert(number->as_int());
          }
        }
      }
    }
  }
  return out;
}

}  // namespace

std::string PolicyTableScript(const std::vector<const json::Value*>& policies, const std::vector<const json::Value*>& pods,
                              const std::vector<const json::Value*>& namespaces, const std::string& node_name) {
  std::map<std::string, const json::Value*> ns_by_name;
  for (const json::Value* n : namespaces) ns_by_name[n->GetString({"metadata", "name"})] = n;
  std::vector<PodInfo> all;
  for (const json::Value* p : pods) {
    const json::Value* host = p->Get({"spec", "hostNetwork"});
    std::string phase = p->GetString({"status", "phase"});
    std::string ip = p->GetString({"status", "podIP"});
    if ((host && host->is_bool() && host->as_bool()) || ip.empty() || phase == "Succeeded" || phase == "Failed") continue;
    all.push_back({p, p->GetString({"metadata", "namespace"}), ip, p->GetString({"spec", "nodeName"})});
  }
  std::sort(all.begin(), all.end(), [](const PodInfo& a, const PodInfo& b) { return a.ip < b.ip; });

  // The pods a peer names (selectors), relative to the policy's namespace.
  auto peer_pods = [&](const json::Value& peer, const std::string& policy_ns) {
    std::vector<const PodInfo*> out;
    const json::Value* ns_selector = peer.Find("namespaceSelector");
    const json::Value* pod_selector = peer.Find("podSelector");
    for (const PodInfo& p : all) {
      bool ns_ok = ns_selector ? Matches(ns_selector, NamespaceLabels(ns_by_name, p.ns)) : p.ns == policy_ns;
      if (ns_ok && Matches(pod_selector, LabelsOf(*p.pod))) out.push_back(&p);
    }
    return out;
  };

  struct Isolation {
    std::vector<std::string> rules;  // nft statements ending in `return`
    bool isolated = false;
  };
  std::map<std::string, std::pair<Isolation, Isolation>> by_ip;  // local pod ip -> (ingress, egress)
  for (const json::Value* policy : policies) {
    const std::string policy_ns = policy->GetString({"metadata", "namespace"});
    std::set<std::string> types;
    if (const json::Value* t = policy->Get({"spec", "policyTypes"}); t && t->is_array()) {
      for (const json::Value& v : t->as_array()) if (v.is_string()) types.insert(v.as_string());
    } else {
      types.insert("Ingress");
      if (policy->Get({"spec", "egress"})) types.insert("Egress");
    }
    for (const PodInfo& x : all) {
      if (x.node != node_name || x.ns != policy_ns || !Matches(policy->Get({"spec", "podSelector"}), LabelsOf(*x.pod))) continue;
      for (const std::string& type : types) {
        const bool ingress = type == "Ingress";
        if (!ingress && type != "Egress") continue;
        Isolation& iso = ingress ? by_ip[x.ip].first : by_ip[x.ip].second;
        iso.isolated = true;
        const json::Value* rules = policy->Get({"spec", ingress ? "ingress" : "egress"});
        if (rules == nullptr || !rules->is_array()) continue;
        const std::string dir = ingress ? "saddr" : "daddr";
        for (const json::Value& rule : rules->as_array()) {
          // Who: each peer a match (an absent or empty list: anyone).
          std::vector<std::string> peer_matches;
          std::vector<const PodInfo*> peer_pod_set;
          const json::Value* peers = rule.Find(ingress ? "from" : "to");
          if (peers == nullptr || !peers->is_array() || peers->as_array().empty()) {
            peer_matches.push_back("");
          } else {
            for (const json::Value& peer : peers->as_array()) {
              if (const json::Value* block = peer.Find("ipBlock")) {
                auto cidr = net::ParseIpv4Prefix(block->GetString({"cidr"}), true);
                if (!cidr.ok()) continue;
                std::string m = StrCat("ip ", dir, " ", cidr->ToString());
                std::vector<std::string> except;
                if (const json::Value* e = block->Find("except"); e && e->is_array()) {
                  for (const json::Value& x2 : e->as_array()) {
                    auto p = x2.is_string() ? net::ParseIpv4Prefix(x2.as_string(), true) : absl::StatusOr<net::Ipv4Prefix>(absl::InvalidArgumentError(""));
                    if (p.ok()) except.push_back(p->ToString());
                  }
                }
                if (!except.empty()) m += StrCat(" ip ", dir, " != { ", absl::StrJoin(except, ", "), " }");
                peer_matches.push_back(m);
                continue;
              }
              std::vector<const PodInfo*> selected = peer_pods(peer, policy_ns);
              if (selected.empty()) continue;  // names nobody (yet): allows nothing
              std::vector<std::string> ips;
              for (const PodInfo* p : selected) ips.push_back(p->ip);
              peer_pod_set.insert(peer_pod_set.end(), selected.begin(), selected.end());
              peer_matches.push_back(StrCat("ip ", dir, " { ", absl::StrJoin(ips, ", "), " }"));
            }
          }
          // What: each port a match (absent or empty: any).
          std::vector<std::string> port_matches;
          const json::Value* ports = rule.Find("ports");
          if (ports == nullptr || !ports->is_array() || ports->as_array().empty()) {
            port_matches.push_back("");
          } else {
            for (const json::Value& p : ports->as_array()) {
              std::string protocol = p.GetString({"protocol"}, "TCP");
              std::string proto = absl::AsciiStrToLower(protocol);
              const json::Value* port = p.Find("port");
              if (port == nullptr) {
                port_matches.push_back(StrCat("meta l4proto ", proto));
              } else if (port->is_int()) {
                const json::Value* end = p.Find("endPort");
                port_matches.push_back(end && end->is_int() && end->as_int() > port->as_int()
                                           ? StrCat(proto, " dport ", port->as_int(), "-", end->as_int())
                                           : StrCat(proto, " dport ", port->as_int()));
              } else if (port->is_string()) {
                std::vector<const PodInfo*> owners = ingress ? std::vector<const PodInfo*>{&x} : peer_pod_set;
                if (!ingress && owners.empty()) for (const PodInfo& any : all) owners.push_back(&any);
                std::set<int64_t> numbers = ResolveNamedPort(port->as_string(), protocol, owners);
                if (numbers.empty()) continue;
                std::vector<std::string> list;
                for (int64_t n : numbers) list.push_back(StrCat(n));
                port_matches.push_back(StrCat(proto, " dport { ", absl::StrJoin(list, ", "), " }"));
              }
            }
          }
          for (const std::string& who : peer_matches) {
            for (const std::string& what : port_matches) {
              std::string stmt = absl::StrJoin(std::vector<std::string>{who, what}, " ");
              while (!stmt.empty() && stmt.front() == ' ') stmt.erase(0, 1);
              iso.rules.push_back(StrCat(stmt.empty() ? "" : stmt + " ", "return"));
            }
          }
        }
      }
    }
  }

  std::string dispatch, chains;
  for (const auto& [ip, pair] : by_ip) {
    const std::string id = absl::StrReplaceAll(ip, {{".", "-"}});
    const auto& [ingress, egress] = pair;
    if (egress.isolated) {
      dispatch += StrCat("    ip saddr ", ip, " jump egress-", id, "\n");
      chains += StrCat("  chain egress-", id, " {\n");
      for (const std::string& r : egress.rules) chains += StrCat("    ", r, "\n");
      chains += "    drop\n  }\n";
    }
    if (ingress.isolated) {
      dispatch += StrCat("    ip daddr ", ip, " jump ingress-", id, "\n");
      chains += StrCat("  chain ingress-", id, " {\n");
      for (const std::string& r : ingress.rules) chains += StrCat("    ", r, "\n");
      chains += "    drop\n  }\n";
    }
  }
  // After the Service DNAT (prerouting) and the proxy's filter chains (-110): pod addresses.
  return StrCat("table ip berth-policy {}\ndelete table ip berth-policy\ntable ip berth-policy {\n",
                "  chain forward {\n    type filter hook forward priority 10; policy accept;\n",
                "    ct state established,related accept\n", dispatch, "  }\n", chains, "}\n");
}

}  // namespace berth::agent::network
