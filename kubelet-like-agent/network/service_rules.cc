// File: kubelet-like-agent/network/service_rules.cc
#include "kubelet-like-agent/network/service_rules.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace berth::agent::network {
namespace {

using absl::StrCat;

// FNV-1a, 8 hex digits: chain names stay short and the same across agents and restarts.
std::string ShortHash(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return absl::StrFormat("%08X", h);
}

bool Flag(const json::Value& conditions, const char* name, bool fallback) {
  const json::Value* v = conditions.Find(name);
  return v != nullptr && v->is_bool() ? v->as_bool() : fallback;
}

}  // namespace

std::vector<ServicePortRule> ServicePortRules(const std::vector<const json::Value*>& services,
                                              const std::vector<const json::Value*>& slices) {
  // Slices by namespace/service.
  std::map<std::string, std::vector<const json::Value*>> by_service;
  for (const json::Value* s : slices) {
    if (s->GetString({"addressType"}) != "IPv4") continue;
    std::string svc = s->GetString({"metadata", "labels", "kubernetes.io/service-name"});
    if (!svc.empty()) by_service[StrCat(s->GetString({"metadata", "namespace"}), "/", svc)].push_back(s);
  }
  std::vector<ServicePortRule> out;
  for (const json::Value* svc : services) {
    std::string ip = svc->GetString({"spec", "clusterIP"});
    std::string type = svc->GetString({"spec", "type"}, "ClusterIP");
    if (ip.empty() || ip == "None" || type == "ExternalName" || !net::ParseIpv4(ip).ok()) continue;
    std::string key = StrCat(svc->GetString({"metadata", "namespace"}), "/", svc->GetString({"metadata", "name"}));
    const json::Value* ports = svc->Get({"spec", "ports"});
    if (ports == nullptr || !ports->is_array()) continue;
    int affinity = svc->GetString({"spec", "sessionAffinity"}) == "ClientIP"
                       ? static_cast<int>(svc->GetInt({"spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"}, 10800))
                       : 0;
    for (const json::Value& p : ports->as_array()) {
      ServicePortRule r;
      std::string protocol = p.GetString({"protocol"}, "TCP");
      r.protocol = absl::AsciiStrToLower(protocol);
      r.name = StrCat(key, "/", r.protocol, "/", p.GetString({"name"}));
      r.chain_id = ShortHash(r.name);
      r.cluster_ip = ip;
      r.port = static_cast<int>(p.GetInt({"port"}));
      r.node_port = (type == "NodePort" || type == "LoadBalancer") ? static_cast<int>(p.GetInt({"nodePort"})) : 0;
      r.affinity_seconds = affinity;
      std::vector<std::pair<std::string, int>> ready, terminating;
      for (const json::Value* slice : by_service[key]) {
        // The slice's port of the same name and protocol.
        int target = 0;
        if (const json::Value* sp = slice->Find("ports"); sp && sp->is_array()) {
          for (const json::Value& q : sp->as_array()) {
            if (q.GetString({"name"}) == p.GetString({"name"}) && q.GetString({"protocol"}, "TCP") == protocol) {
              target = static_cast<int>(q.GetInt({"port"}));
            }
          }
        }
        if (target == 0) continue;
        const json::Value* eps = slice->Find("endpoints");
        if (eps == nullptr || !eps->is_array()) continue;
        for (const json::Value& e : eps->as_array()) {
          const json::Value* addresses = e.Find("addresses");
          if (addresses == nullptr || !addresses->is_array() || addresses->as_array().empty()) continue;
          const json::Value& a = addresses->as_array()[0];
          if (!a.is_string() || !net::ParseIpv4(a.as_string()).ok()) continue;
          json::Value conditions = e.Find("conditions") ? *e.Find("conditions") : json::Value::MakeObject();
          bool is_ready = Flag(conditions, "ready", true);
          bool serving = Flag(conditions, "serving", is_ready), terminating_now = Flag(conditions, "terminating", false);
          if (is_ready) ready.emplace_back(a.as_string(), target);
          else if (serving && terminating_now) terminating.emplace_back(a.as_string(), target);
        }
      }
      r.endpoints = !ready.empty() ? ready : terminating;
      std::sort(r.endpoints.begin(), r.endpoints.end());
      r.endpoints.erase(std::unique(r.endpoints.begin(), r.endpoints.end()), r.endpoints.end());
      out.push_back(std::move(r));
    }
  }
  std::sort(out.begin(), out.end(), [](const ServicePortRule& a, const ServicePortRule& b) { return a.name < b.name; });
  return out;
}

ServiceTable BuildServiceTable(const std::vector<ServicePortRule>& rules, const ServiceRulesOptions& o) {
  ServiceTable t;
  t.options = o;
  const std::string cluster = o.cluster_cidr.ToString();
  for (const ServicePortRule& r : rules) {
    const std::string svc_chain = StrCat("service-", r.chain_id);
    const std::string match = StrCat(r.cluster_ip, " . ", r.protocol, " . ", r.port);
    if (r.endpoints.empty()) {
      t.maps["no-endpoint-services"].insert(StrCat(match, " : goto reject-chain"));
      if (r.node_port) t.maps["no-endpoint-nodeports"].insert(StrCat(r.protocol, " . ", r.node_port, " : goto reject-chain"));
      continue;
    }
    t.maps["service-ips"].insert(StrCat(match, " : goto ", svc_chain));
    std::vector<std::string>& body = t.chains[svc_chain];
    body.push_back(StrCat("ip daddr ", r.cluster_ip, " ip saddr != ", cluster, " jump mark-for-masquerade"));
    std::string vmap;
    for (size_t i = 0; i < r.endpoints.size(); ++i) {
      const auto& [address, port] = r.endpoints[i];
      // Named by what it does, not by position: an endpoint that stays keeps its chain (and
      // its affinity set) when others come and go, so an incremental sync leaves it alone.
      const std::string ep_id = StrCat(r.chain_id, "-", ShortHash(StrCat(address, ":", port)));
      const std::string ep_chain = StrCat("endpoint-", ep_id);
      vmap += StrCat(vmap.empty() ? "" : ", ", i, " : goto ", ep_chain);
      std::vector<std::string>& ep = t.chains[ep_chain];
      ep.push_back(StrCat("ip saddr ", address, " jump mark-for-masquerade"));
      if (r.affinity_seconds > 0) {
        t.sets[StrCat("affinity-", ep_id)] = StrCat("type ipv4_addr; flags dynamic,timeout; timeout ", r.affinity_seconds, "s;");
        body.push_back(StrCat("ip saddr @affinity-", ep_id, " goto ", ep_chain));
        ep.push_back(StrCat("update @affinity-", ep_id, " { ip saddr }"));
      }
      ep.push_back(StrCat("meta l4proto ", r.protocol, " dnat to ", address, ":", port));
    }
    body.push_back(StrCat("numgen random mod ", r.endpoints.size(), " vmap { ", vmap, " }"));
    if (r.node_port) {
      const std::string ext_chain = StrCat("external-", r.chain_id);
      t.maps["service-nodeports"].insert(StrCat(r.protocol, " . ", r.node_port, " : goto ", ext_chain));
      t.chains[ext_chain] = {"jump mark-for-masquerade", StrCat("goto ", svc_chain)};
    }
  }
  return t;
}

namespace {

const std::map<std::string, std::string>& MapTypes() {
  static const auto* types = new std::map<std::string, std::string>{
      {"service-ips", "ipv4_addr . inet_proto . inet_service"},
      {"service-nodeports", "inet_proto . inet_service"},
      {"no-endpoint-services", "ipv4_addr . inet_proto . inet_service"},
      {"no-endpoint-nodeports", "inet_proto . inet_service"},
  };
  return *types;
}

}  // namespace

std::string FullTableScript(const ServiceTable& t) {
  const std::string services = t.options.service_cidr.ToString();
  std::string s = "table ip berth {}\ndelete table ip berth\ntable ip berth {\n";
  for (const auto& [name, type] : MapTypes()) {
    s += StrCat("  map ", name, " {\n    type ", type, " : verdict\n");
    auto it = t.maps.find(name);
    if (it != t.maps.end() && !it->second.empty()) {
      s += StrCat("    elements = { ", absl::StrJoin(it->second, ", "), " }\n");
    }
    s += "  }\n";
  }
  for (const auto& [name, body] : t.sets) s += StrCat("  set ", name, " { ", body, " }\n");
  // Numbers for priorities: nft 1.0.6 refuses `dstnat` on the output hook (networking brief F5).
  s += "  chain nat-prerouting {\n    type nat hook prerouting priority -100; policy accept;\n    jump services\n  }\n";
  s += "  chain nat-output {\n    type nat hook output priority -100; policy accept;\n    jump services\n  }\n";
  s += "  chain nat-postrouting {\n    type nat hook postrouting priority 100; policy accept;\n    jump masquerading\n  }\n";
  for (const char* hook : {"input", "forward", "output"}) {
    s += StrCat("  chain filter-", hook, " {\n    type filter hook ", hook,
                " priority -110; policy accept;\n    ct state new jump endpoints-check\n  }\n");
  }
  for (const char* hook : {"forward", "output"}) {
    // Addresses of the node itself (the cluster DNS address on lo) are not Services.
    s += StrCat("  chain cluster-ips-check-", hook, " {\n    type filter hook ", hook, " priority 0; policy accept;\n    ip daddr ",
                services, " fib daddr type != local goto reject-chain\n  }\n");
  }
  s += "  chain endpoints-check {\n    ip daddr . meta l4proto . th dport vmap @no-endpoint-services\n"
       "    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports\n  }\n";
  s += "  chain services {\n    ip daddr . meta l4proto . th dport vmap @service-ips\n"
       "    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports\n  }\n";
  s += "  chain mark-for-masquerade {\n    meta mark set meta mark | 0x4000\n  }\n";
  s += "  chain masquerading {\n    meta mark & 0x4000 == 0 return\n    meta mark set meta mark ^ 0x4000\n    masquerade fully-random\n  }\n";
  // TCP gets a reset: an ICMP error would be rate-limited per client (net.ipv4.icmp_ratelimit)
  // and a client's second refused connection within a second would wait for a retransmit.
  s += "  chain reject-chain {\n    meta l4proto tcp reject with tcp reset\n    reject\n  }\n";
  for (const auto& [name, body] : t.chains) {
    s += StrCat("  chain ", name, " {\n");
    for (const std::string& rule : body) s += StrCat("    ", rule, "\n");
    s += "  }\n";
  }
  s += "}\n";
  return s;
}

std::string IncrementalTableScript(const ServiceTable& from, const ServiceTable& to) {
  std::string s;
  // New sets and chains first, so the rules and elements below can refer to them.
  for (const auto& [name, body] : to.sets) {
    if (!from.sets.count(name)) s += StrCat("add set ip berth ", name, " { ", body, " }\n");
  }
  for (const auto& [name, body] : to.chains) {
    if (!from.chains.count(name)) s += StrCat("add chain ip berth ", name, "\n");
  }
  for (const auto& [name, body] : to.chains) {
    auto it = from.chains.find(name);
    if (it != from.chains.end() && it->second == body) continue;
    if (it != from.chains.end()) s += StrCat("flush chain ip berth ", name, "\n");
    for (const std::string& rule : body) s += StrCat("add rule ip berth ", name, " ", rule, "\n");
  }
  static const std::set<std::string> kNone;
  for (const auto& [map, type] : MapTypes()) {
    auto old_it = from.maps.find(map), new_it = to.maps.find(map);
    const std::set<std::string>& before = old_it == from.maps.end() ? kNone : old_it->second;
    const std::set<std::string>& after = new_it == to.maps.end() ? kNone : new_it->second;
    std::vector<std::string> gone, added;
    for (const std::string& e : before) {
      if (!after.count(e)) gone.push_back(e);
    }
    for (const std::string& e : after) {
      if (!before.count(e)) added.push_back(e);
    }
    if (!gone.empty()) s += StrCat("delete element ip berth ", map, " { ", absl::StrJoin(gone, ", "), " }\n");
    if (!added.empty()) s += StrCat("add element ip berth ", map, " { ", absl::StrJoin(added, ", "), " }\n");
  }
  // What nothing refers to any more goes last, in the same transaction: the elements and rules
  // that named it were removed above.
  // Every removed chain is flushed before any is deleted: a Service chain's vmap names its
  // endpoint chains, and a chain still referred to cannot go (EBUSY).
  for (const auto& [name, body] : from.chains) {
    if (!to.chains.count(name)) s += StrCat("flush chain ip berth ", name, "\n");
  }
  for (const auto& [name, body] : from.chains) {
    if (!to.chains.count(name)) s += StrCat("delete chain ip berth ", name, "\n");
  }
  for (const auto& [name, body] : from.sets) {
    if (!to.sets.count(name)) s += StrCat("delete set ip berth ", name, "\n");
  }
  return s;
}

std::string ServiceTableScript(const std::vector<ServicePortRule>& rules, const ServiceRulesOptions& o) {
  return FullTableScript(BuildServiceTable(rules, o));
}

}  // namespace berth::agent::network
