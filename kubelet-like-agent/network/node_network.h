#pragma once
// File: kubelet-like-agent/network/node_network.h
// The node's side of the pod network, wired to the API: watches Nodes, sets up the bridge once
// this node has a spec.podCIDR (the nodeipam controller gives it one), and keeps routes to the
// other nodes' pods (host-gw). Owns the driver and the PodNetwork the sync loop uses.

#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <string>

#include "absl/status/statusor.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"
#include "kubelet-like-agent/network/dns/dns_server.h"
#include "kubelet-like-agent/network/netlink_driver.h"
#include "kubelet-like-agent/network/pod_network.h"
#include "kubelet-like-agent/network/programming_latency.h"
#include "kubelet-like-agent/network/service_rules.h"
#include "kubelet-like-agent/network/service_table_cache.h"

namespace berth::agent::network {

struct NodeNetworkOptions {
  std::string node_name;
  std::string node_netns;  // empty: the agent's own namespace
  std::string root_dir;    // netns/ and network/ipam/ go under it
  std::string cluster_cidr = "10.244.0.0/16";
  std::string service_cidr = "10.96.0.0/12";
  std::string pod_egress = "drop";  // or masquerade
  std::string cluster_dns;           // empty: no DNS responder on this node
  std::string cluster_domain = "cluster.local";
  // The node's resolv.conf text: its nameservers are where the cluster DNS relays names outside
  // the cluster's zone.
  std::string node_resolv_conf;
  int spares = 0;  // PodNetworkOptions::spares
};

class NodeNetwork {
 public:
  // Parses the options (kInvalidArgument naming the flag), opens the node namespace and starts
  // watching Nodes.
  static absl::StatusOr<std::unique_ptr<NodeNetwork>> Start(client::ApiClient& api, const NodeNetworkOptions& options);
  ~NodeNetwork();
  // Waits (bounded) until the Nodes are listed and acted on once, so pods that survived an agent
  // restart find the bridge in place before the sync loop looks at them.
  void WaitForNodes(absl::Duration timeout);
  PodNetwork& pods() { return *pods_; }
  // The Service variables for a container of a pod in `ns` (see service_env.h).
  std::vector<std::string> ServiceEnvironment(const std::string& ns, bool service_links) const;
  NetworkDriver& driver() { return *driver_; }
  // The proxy's metrics in Prometheus' text format (the agent's /metrics).
  std::string RenderMetrics() const;

 private:
  NodeNetwork() = default;
  void Sync();
  // The Service proxy, DNS zone and NetworkPolicy table: one thread applies what changed
  // (changes that arrive during a sync are taken by the next one).
  void ProxyLoop();
  void MarkDirty(bool services, bool policies);
  bool SyncServices();  // the Service table and the DNS zone; false: retry
  bool SyncPolicies();  // the NetworkPolicy table; false: retry

  NodeNetworkOptions options_;
  net::Ipv4Prefix cluster_cidr_;
  std::unique_ptr<NetlinkDriver> driver_;
  std::unique_ptr<PodNetwork> pods_;
  std::unique_ptr<controllers::Informer> nodes_;
  std::unique_ptr<controllers::Informer> services_, slices_;
  std::unique_ptr<controllers::Informer> policies_, all_pods_, namespaces_;  // NetworkPolicy
  std::string last_policy_table_;
  std::mutex sync_mu_;
  net::Ipv4Prefix service_cidr_;
  std::mutex proxy_mu_;
  std::condition_variable proxy_cv_;
  bool services_dirty_ = false, policies_dirty_ = false, proxy_stopping_ = false;
  std::unique_ptr<ServiceTableCache> table_;  // table ip berth: desired per Service, and what is programmed
  std::thread proxy_thread_;
  std::unique_ptr<dns::DnsServer> dns_;
  std::unique_ptr<ProgrammingLatency> latency_;
};

}  // namespace berth::agent::network
