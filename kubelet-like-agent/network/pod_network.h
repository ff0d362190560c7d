#pragma once
// File: kubelet-like-agent/network/pod_network.h
// The pod network on one node, as the CNI bridge + host-local plugins build it, in-process:
// one network namespace per pod (shared by its containers) pinned at <netns_dir>/<pod uid>, a
// veth from the node bridge to the pod's eth0 with an address from the node's podCIDR and a
// default route through the bridge; the node table `ip berth-node` (pod egress policy and
// hostPorts). Teardown is idempotent and garbage collection removes whatever no live pod owns,
// so a crash at any step leaves nothing behind for long.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/net/ipv4.h"
#include "kubelet-like-agent/network/ipam.h"
#include "kubelet-like-agent/network/network_driver.h"

namespace berth::agent::network {

struct PodNetworkOptions {
  std::string netns_dir;  // <root>/netns: one pinned namespace per pod
  std::string ipam_dir;   // <root>/network/ipam
  std::string bridge = "berth0";
  net::Ipv4Prefix cluster_cidr{0x0af40000, 16};  // 10.244.0.0/16
  net::Ipv4Prefix service_cidr{0x0a600000, 12};  // 10.96.0.0/12
  // Pod traffic to anything outside the cluster's ranges: dropped, or masqueraded behind the node.
  bool masquerade = false;
  // Spare sandboxes kept ready: a namespace with its veth already on the bridge, so a pod's
  // set-up is a rename, an address and a route instead of registering two netdevs (~1.9 of its
  // 2.7 ms). 0: none, every pod is wired from scratch.
  int spares = 0;
  std::string spares_dir;  // their pinned namespaces; default: netns_dir + "-spares"
};

struct HostPort {
  std::string protocol = "tcp";  // tcp, udp, sctp
  int host_port = 0;
  int container_port = 0;
  bool operator==(const HostPort&) const = default;
};

struct PodSandbox {
  std::string netns_path;
  std::string ip;  // empty for an isolated (loopback-only) pod
};

class PodNetwork {
 public:
  PodNetwork(NetworkDriver& driver, PodNetworkOptions options);

  // The node's podCIDR is known (or changed): the bridge with its gateway, the node table.
  absl::Status SetPodCidr(const net::Ipv4Prefix& pod_cidr);
  std::optional<net::Ipv4Prefix> pod_cidr() const;

  // The pod's namespace and address, made on first call and found again afterwards (also after
  // an agent restart). `isolated`: loopback only. kUnavailable until SetPodCidr for others.
  absl::StatusOr<PodSandbox> SetUp(const std::string& uid, bool isolated, const std::vector<HostPort>& host_ports = {});
  // Removes the pod's veth, address and namespace (each step tolerates it being gone).
  absl::Status TearDown(const std::string& uid);
  // The pod's namespace and address if it has them.
  std::optional<PodSandbox> Find(const std::string& uid) const;
  // Tears down every sandbox, address and bridge port whose pod uid is not in `live`.
  void CollectGarbage(const std::set<std::string>& live);
  // Host-side interface name of a pod's veth: "veth" + 11 hex digits of its uid.
  static std::string HostInterface(const std::string& uid);
  // Spares ready now, and how many pods took one or found none (they were wired from scratch).
  size_t SparesReady() const;
  uint64_t spares_taken() const { return spares_taken_.load(); }
  uint64_t spares_missed() const { return spares_missed_.load(); }
  ~PodNetwork();
  NetworkDriver& driver() { return driver_; }
  const PodNetworkOptions& options() const { return options_; }

 private:
  absl::Status ApplyNodeTable();  // with mu_ held
  std::string NetnsPath(const std::string& uid) const { return options_.netns_dir + "/" + uid; }

  struct Spare {
    std::string netns_path;
    std::string ifname;
  };
  // A spare for a pod whose namespace does not exist yet (none for one set up before).
  std::optional<Spare> TakeSpare(const std::string& pod_netns_path);
  void DiscardSpare(const Spare& spare);
  void RefillSpares();  // the refill thread
  void RemoveStaleSpares();  // left by an earlier run of the agent

  NetworkDriver& driver_;
  const PodNetworkOptions options_;
  mutable std::mutex mu_;
  std::condition_variable spares_cv_;
  std::deque<Spare> spares_;  // ready, oldest first
  bool stopping_ = false;
  uint32_t spare_prefix_ = 0;  // random per run: names of this run's spares
  uint32_t spare_seq_ = 0;
  std::atomic<uint64_t> spares_taken_{0}, spares_missed_{0};
  std::thread refill_;
  std::optional<HostLocalIpam> ipam_;
  std::map<std::string, std::pair<uint32_t, std::vector<HostPort>>> host_ports_;  // by uid
};

// The node table's nft script (a whole replacement, atomic): pod egress beyond the cluster's
// ranges dropped or masqueraded; hostPorts DNAT'd to their pods.
std::string NodeTableScript(const PodNetworkOptions& options, const std::string& bridge_cidr,
                            const std::map<std::string, std::pair<uint32_t, std::vector<HostPort>>>& host_ports);

}  // namespace berth::agent::network
