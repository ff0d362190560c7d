// File: kubelet-like-agent/network/node_network.cc
#include "kubelet-like-agent/network/node_network.h"

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "kubelet-like-agent/network/node_routes.h"

namespace berth::agent::network {

absl::StatusOr<std::unique_ptr<NodeNetwork>> NodeNetwork::Start(client::ApiClient& api, const NodeNetworkOptions& options) {
  std::unique_ptr<NodeNetwork> n(new NodeNetwork());
  n->options_ = options;
  auto cluster = net::ParseIpv4Prefix(options.cluster_cidr);
  if (!cluster.ok()) return absl::InvalidArgumentError(absl::StrCat("--cluster-cidr: ", cluster.status().message()));
  auto services = net::ParseIpv4Prefix(options.service_cidr);
  if (!services.ok()) return absl::InvalidArgumentError(absl::StrCat("--service-cidr: ", services.status().message()));
  if (cluster->Overlaps(*services)) {
    return absl::InvalidArgumentError(absl::StrCat("--cluster-cidr ", cluster->ToString(), " overlaps --service-cidr ",
                                                   services->ToString()));
  }
  if (options.pod_egress != "drop" && options.pod_egress != "masquerade") {
    return absl::InvalidArgumentError(absl::StrCat("--pod-egress: \"", options.pod_egress, "\" is neither drop nor masquerade"));
  }
  n->cluster_cidr_ = *cluster;
  auto driver = NetlinkDriver::Create(options.node_netns);
  if (!driver.ok()) return driver.status();
  n->driver_ = *std::move(driver);
  PodNetworkOptions pod_options;
  pod_options.netns_dir = options.root_dir + "/netns";
  pod_options.ipam_dir = options.root_dir + "/network/ipam";
  pod_options.cluster_cidr = *cluster;
  pod_options.service_cidr = *services;
  pod_options.masquerade = options.pod_egress == "masquerade";
  n->pods_ = std::make_unique<PodNetwork>(*n->driver_, pod_options);
  n->nodes_ = std::make_unique<controllers::Informer>(api, client::resources::kNodes);
  NodeNetwork* raw = n.get();
  n->nodes_->AddHandlers({[raw](const controllers::ObjectPtr&) { raw->Sync(); },
                          [raw](const controllers::ObjectPtr&, const controllers::ObjectPtr&) { raw->Sync(); },
                          [raw](const controllers::ObjectPtr&) { raw->Sync(); }});
  n->nodes_->Start();
  return n;
}

NodeNetwork::~NodeNetwork() {
  if (nodes_) nodes_->Stop();
}

void NodeNetwork::WaitForNodes(absl::Duration timeout) {
  if (nodes_->WaitForSync(timeout)) Sync();
}

void NodeNetwork::Sync() {
  std::lock_guard<std::mutex> lock(sync_mu_);
  std::vector<controllers::ObjectPtr> nodes = nodes_->List();
  std::vector<const json::Value*> raw;
  for (const auto& node : nodes) {
    raw.push_back(node.get());
    if (node->GetString({"metadata", "name"}) != options_.node_name) continue;
    std::string cidr = node->GetString({"spec", "podCIDR"});
    if (cidr.empty()) continue;
    auto prefix = net::ParseIpv4Prefix(cidr);
    absl::Status s = prefix.ok() ? pods_->SetPodCidr(*prefix) : prefix.status();
    if (!s.ok()) BERTH_LOG(Error, "agent.network", "Cannot set up the node's pod network", "podCIDR", cidr, "error", s.ToString());
  }
  absl::Status s = ApplyPeerRoutes(*driver_, PeerRoutes(raw, options_.node_name, cluster_cidr_), cluster_cidr_);
  if (!s.ok()) BERTH_LOG(Warning, "agent.network", "Routes to other nodes incomplete", "error", s.ToString());
}

}  // namespace berth::agent::network
