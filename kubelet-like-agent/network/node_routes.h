#pragma once
// File: kubelet-like-agent/network/node_routes.h
// Many nodes, flannel host-gw style: every other Node's podCIDR is routed via the address that
// node publishes (annotation berth.dev/pod-network-ip, else its InternalIP), so pods reach pods
// on any node by IP with the client address preserved. Routes carry the driver's own protocol
// number: those of nodes that went away are found and removed without touching anyone else's.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/json/value.h"
#include "kubelet-like-agent/network/network_driver.h"

namespace berth::agent::network {

constexpr char kPodNetworkIpAnnotation[] = "berth.dev/pod-network-ip";

// The address other nodes route this node's pods through ("" when it publishes none).
std::string PodNetworkAddress(const json::Value& node);

// The routes this node needs to the other nodes' pods (nodes without a podCIDR inside
// `cluster_cidr` or without an address are skipped).
std::vector<Route> PeerRoutes(const std::vector<const json::Value*>& nodes, const std::string& self,
                              const net::Ipv4Prefix& cluster_cidr);

// Makes the driver's gateway routes inside `cluster_cidr` exactly `desired`.
absl::Status ApplyPeerRoutes(NetworkDriver& driver, const std::vector<Route>& desired, const net::Ipv4Prefix& cluster_cidr);

}  // namespace berth::agent::network
