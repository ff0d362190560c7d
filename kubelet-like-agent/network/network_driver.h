#pragma once
// File: kubelet-like-agent/network/network_driver.h
// The seam between the pod network's decisions and the kernel, as CgroupDriver is for cgroups:
// NetlinkDriver (libnl-route-3 and libnftables, no exec per pod) acts in the node's network
// namespace; FakeNetworkDriver records the calls for unit tests. Every call is idempotent
// where the kernel state allows it (a bridge that exists is fine, a link that is gone is fine).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/net/ipv4.h"

namespace berth::agent::network {

// A pod's end of the network: a veth pair from `bridge` (host end `host_ifname`, hairpin on)
// to `eth0` inside `netns_path`, with `address`/`prefix_length` and a default route via
// `gateway`.
struct PodLink {
  std::string netns_path;
  std::string host_ifname;
  std::string bridge;
  uint32_t address = 0;
  int prefix_length = 24;
  uint32_t gateway = 0;
};

struct Route {
  net::Ipv4Prefix destination;
  uint32_t via = 0;  // 0: no gateway (an unreachable route, or a device route)
  bool unreachable = false;
  std::string device;  // device routes only
  bool operator==(const Route&) const = default;
};

class NetworkDriver {
 public:
  virtual ~NetworkDriver() = default;
  // The node bridge with `gateway`/`prefix_length` on it, up; IPv4 forwarding on.
  virtual absl::Status EnsureBridge(const std::string& name, uint32_t gateway, int prefix_length) = 0;
  // A new network namespace pinned at `path` (a bind mount), with its loopback up.
  virtual absl::Status CreateNetns(const std::string& path) = 0;
  // Unmounts and unlinks `path` (its interfaces go with the namespace once nothing runs in it).
  virtual absl::Status DeleteNetns(const std::string& path) = 0;
  virtual absl::Status AddPodLink(const PodLink& link) = 0;
  // Moves a pinned namespace from `from` to `to` (the spare a pod takes becomes its own).
  virtual absl::Status MoveNetns(const std::string& from, const std::string& to) = 0;
  // A spare's link: the veth `host_ifname` to `eth0` inside `netns_path`, its host end a
  // hairpinned port of `bridge`, both ends down and without addresses. The kernel's share of a
  // pod's wiring (two netdevs registered, one moved) is paid here, before any pod asks.
  virtual absl::Status AddSpareLink(const std::string& netns_path, const std::string& host_ifname,
                                    const std::string& bridge) = 0;
  // Gives a spare's link to a pod: renames `spare_ifname` to `link.host_ifname` and does the rest
  // of AddPodLink (both ends up, the address, the default route) in `link.netns_path`, where the
  // spare's namespace has been moved. On failure the link is deleted.
  virtual absl::Status ClaimSpareLink(const std::string& spare_ifname, const PodLink& link) = 0;
  virtual absl::Status DeleteLink(const std::string& ifname) = 0;
  virtual absl::StatusOr<std::vector<std::string>> BridgePorts(const std::string& bridge) = 0;
  // Routes in the node namespace that this driver owns (its own routing protocol number), so
  // they can be listed and garbage-collected without touching anyone else's.
  virtual absl::Status ReplaceRoute(const Route& route) = 0;
  virtual absl::Status DeleteRoute(const net::Ipv4Prefix& destination) = 0;
  virtual absl::StatusOr<std::vector<Route>> OwnRoutes() = 0;
  // A /32 of the node itself, on its loopback (the cluster DNS address: every node answers it).
  virtual absl::Status AddLocalAddress(uint32_t address) = 0;
  // An nft script (the `nft -f` language), applied as one transaction.
  virtual absl::Status ApplyNftables(const std::string& script) = 0;
  // A socket of the node namespace (probes dial pod addresses from the node, as the kubelet does).
  virtual absl::StatusOr<int> NodeSocket(int domain, int type) = 0;
};

}  // namespace berth::agent::network
