// File: kubelet-like-agent/network/node_routes.cc
#include "kubelet-like-agent/network/node_routes.h"

#include <algorithm>

#include "core/log/log.h"

namespace berth::agent::network {

std::string PodNetworkAddress(const json::Value& node) {
  std::string annotated = node.GetString({"metadata", "annotations", kPodNetworkIpAnnotation});
  if (!annotated.empty()) return annotated;
  if (const json::Value* addresses = node.Get({"status", "addresses"}); addresses && addresses->is_array()) {
    for (const json::Value& a : addresses->as_array()) {
      if (a.GetString({"type"}) == "InternalIP") return a.GetString({"address"});
    }
  }
  return "";
}

std::vector<Route> PeerRoutes(const std::vector<const json::Value*>& nodes, const std::string& self,
                              const net::Ipv4Prefix& cluster_cidr) {
  std::vector<Route> out;
  for (const json::Value* node : nodes) {
    if (node->GetString({"metadata", "name"}) == self) continue;
    auto cidr = net::ParseIpv4Prefix(node->GetString({"spec", "podCIDR"}));
    auto via = net::ParseIpv4(PodNetworkAddress(*node));
    if (!cidr.ok() || !via.ok() || !cluster_cidr.Contains(*cidr) || cidr->length == cluster_cidr.length) continue;
    out.push_back(Route{*cidr, *via, false, ""});
  }
  std::sort(out.begin(), out.end(), [](const Route& a, const Route& b) { return a.destination < b.destination; });
  return out;
}

absl::Status ApplyPeerRoutes(NetworkDriver& driver, const std::vector<Route>& desired, const net::Ipv4Prefix& cluster_cidr) {
  auto existing = driver.OwnRoutes();
  if (!existing.ok()) return existing.status();
  absl::Status result = absl::OkStatus();
  for (const Route& r : desired) {
    if (std::find(existing->begin(), existing->end(), r) != existing->end()) continue;
    absl::Status s = driver.ReplaceRoute(r);
    BERTH_LOG(Info, "agent.network", "Route to a node's pods", "podCIDR", r.destination.ToString(), "via",
              net::FormatIpv4(r.via), "result", s.ToString());
    if (result.ok()) result = s;
  }
  for (const Route& r : *existing) {
    if (r.via == 0 || !cluster_cidr.Contains(r.destination) || r.destination == cluster_cidr) continue;
    bool wanted = std::any_of(desired.begin(), desired.end(), [&](const Route& d) { return d.destination == r.destination; });
    if (wanted) continue;
    absl::Status s = driver.DeleteRoute(r.destination);
    BERTH_LOG(Info, "agent.network", "Removed the route to a node that is gone", "podCIDR", r.destination.ToString(),
              "result", s.ToString());
    if (result.ok()) result = s;
  }
  return result;
}

}  // namespace berth::agent::network
