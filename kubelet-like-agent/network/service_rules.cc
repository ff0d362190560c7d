// File: kubelet-like-agent/network/service_rules.cc
#include "kubelet-like-agent/network/service_rules.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::agent::network {
namespace {

using absl::StrCat;

// FNV-1a, 8 hex digits: chain names stay short and the same across agents and restarts.
std::string ShortHash(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return absl::StrFormat("%08X", h);
}

int64_t IntOr(const json::Value* v, int64_t fallback) { return v != nullptr && v->is_int() ? v->as_int() : fallback; }

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
                       ? static_cast<int>(IntOr(svc->Get({"spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"}), 10800))
                       : 0;
    for (const json::Value& p : ports->as_array()) {
      ServicePortRule r;
      std::string protocol = p.GetString({"protocol"}, "TCP");
      r.protocol = absl::AsciiStrToLower(protocol);
      r.name = StrCat(key, "/", r.protocol, "/", p.GetString({"name"}));
      r.chain_id = ShortHash(r.name);
      r.cluster_ip = ip;
      r.port = static_cast<int>(IntOr(p.Find("port"), 0));
      r.node_port = (type == "NodePort" || type == "LoadBalancer") ? static_cast<int>(IntOr(p.Find("nodePort"), 0)) : 0;
      r.affinity_seconds = affinity;
      std::vector<std::pair<std::string, int>> ready, terminating;
      for (const json::Value* slice : by_service[key]) {
        // The slice's port of the same name and protocol.
        int target = 0;
        if (const json::Value* sp = slice->Find("ports"); sp && sp->is_array()) {
          for (const json::Value& q : sp->as_array()) {
            if (q.GetString({"name"}) == p.GetString({"name"}) && q.GetString({"protocol"}, "TCP") == protocol) {
              target = static_cast<int>(IntOr(q.Find("port"), 0));
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

std::string ServiceTableScript(const std::vector<ServicePortRule>& rules, const ServiceRulesOptions& o) {
  const std::string cluster = o.cluster_cidr.ToString(), services = o.service_cidr.ToString();
  std::string svc_ips, node_ports, no_ep_ips, no_ep_ports, chains, sets;
  auto add = [](std::string& list, const std::string& element) { list += (list.empty() ? "" : ", ") + element; };
  for (const ServicePortRule& r : rules) {
    const std::string svc_chain = StrCat("service-", r.chain_id);
    const std::string match = StrCat(r.cluster_ip, " . ", r.protocol, " . ", r.port);
    if (r.endpoints.empty()) {
      add(no_ep_ips, StrCat(match, " : goto reject-chain"));
      if (r.node_port) add(no_ep_ports, StrCat(r.protocol, " . ", r.node_port, " : goto reject-chain"));
      continue;
    }
    add(svc_ips, StrCat(match, " : goto ", svc_chain));
    std::string body = StrCat("  chain ", svc_chain, " {\n    ip daddr ", r.cluster_ip, " ip saddr != ", cluster,
                              " jump mark-for-masquerade\n");
    std::string vmap;
    for (size_t i = 0; i < r.endpoints.size(); ++i) {
      const auto& [address, port] = r.endpoints[i];
      const std::string ep_id = StrCat(r.chain_id, "-", i);
      const std::string ep_chain = StrCat("endpoint-", ep_id);
      add(vmap, StrCat(i, " : goto ", ep_chain));
      std::string ep = StrCat("  chain ", ep_chain, " {\n    ip saddr ", address, " jump mark-for-masquerade\n");
      if (r.affinity_seconds > 0) {
        sets += StrCat("  set affinity-", ep_id, " {\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout ",
                       r.affinity_seconds, "s\n  }\n");
        body += StrCat("    ip saddr @affinity-", ep_id, " goto ", ep_chain, "\n");
        ep += StrCat("    update @affinity-", ep_id, " { ip saddr }\n");
      }
      ep += StrCat("    meta l4proto ", r.protocol, " dnat to ", address, ":", port, "\n  }\n");
      chains += ep;
    }
    body += StrCat("    numgen random mod ", r.endpoints.size(), " vmap { ", vmap, " }\n  }\n");
    chains += body;
    if (r.node_port) {
      const std::string ext_chain = StrCat("external-", r.chain_id);
      add(node_ports, StrCat(r.protocol, " . ", r.node_port, " : goto ", ext_chain));
      chains += StrCat("  chain ", ext_chain, " {\n    jump mark-for-masquerade\n    goto ", svc_chain, "\n  }\n");
    }
  }
  auto map_of = [](const std::string& name, const std::string& type, const std::string& elements) {
    return StrCat("  map ", name, " {\n    type ", type, " : verdict\n", elements.empty() ? "" : StrCat("    elements = { ", elements, " }\n"),
                  "  }\n");
  };
  std::string s = "table ip berth {}\ndelete table ip berth\ntable ip berth {\n";
  s += map_of("service-ips", "ipv4_addr . inet_proto . inet_service", svc_ips);
  s += map_of("service-nodeports", "inet_proto . inet_service", node_ports);
  s += map_of("no-endpoint-services", "ipv4_addr . inet_proto . inet_service", no_ep_ips);
  s += map_of("no-endpoint-nodeports", "inet_proto . inet_service", no_ep_ports);
  s += sets;
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
  s += chains;
  s += "}\n";
  return s;
}

}  // namespace berth::agent::network
