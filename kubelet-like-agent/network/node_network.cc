// File: kubelet-like-agent/network/node_network.cc
#include "kubelet-like-agent/network/node_network.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/log/log.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/network/node_routes.h"
#include "kubelet-like-agent/network/network_policy.h"
#include "kubelet-like-agent/network/service_env.h"
#include "kubelet-like-agent/network/service_rules.h"

namespace berth::agent::network {

absl::StatusOr<std::unique_ptr<NodeNetwork>> NodeNetwork::Start(client::ApiClient& api, const NodeNetworkOptions& options) {
  std::unique_ptr<NodeNetwork> n(new NodeNetwork());
  n->options_ = options;
  n->latency_ = std::make_unique<ProgrammingLatency>(RealClock::Get().Now());
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
  pod_options.spares = options.spares;
  n->pods_ = std::make_unique<PodNetwork>(*n->driver_, pod_options);
  n->nodes_ = std::make_unique<controllers::Informer>(api, client::resources::kNodes);
  NodeNetwork* raw = n.get();
  n->nodes_->AddHandlers({[raw](const controllers::ObjectPtr&) { raw->Sync(); },
                          [raw](const controllers::ObjectPtr&, const controllers::ObjectPtr&) { raw->Sync(); },
                          [raw](const controllers::ObjectPtr&) { raw->Sync(); }});
  n->nodes_->Start();
  n->service_cidr_ = *services;
  if (!options.cluster_dns.empty()) {
    auto dns_ip = net::ParseIpv4(options.cluster_dns);
    if (!dns_ip.ok()) return absl::InvalidArgumentError(absl::StrCat("--cluster-dns: ", dns_ip.status().message()));
    absl::Status s = n->driver_->AddLocalAddress(*dns_ip);
    if (!s.ok()) return s;
    NetlinkDriver* driver = n->driver_.get();
    dns::DnsServer::Upstreams upstreams{dns::NameserversOf(options.node_resolv_conf, *dns_ip)};
    auto server = dns::DnsServer::Start([driver](int domain, int type) { return driver->NodeSocket(domain, type); }, *dns_ip, 53,
                                        upstreams, RealClock::Get());
    if (!server.ok()) return server.status();
    n->dns_ = *std::move(server);
    std::vector<std::string> relayed_to;
    for (uint32_t ip : upstreams.nameservers) relayed_to.push_back(net::FormatIpv4(ip));
    BERTH_LOG(Info, "agent.dns", "Cluster DNS answering", "address", options.cluster_dns, "domain", options.cluster_domain,
              "other names relayed to", relayed_to.empty() ? std::string("nobody (refused)") : absl::StrJoin(relayed_to, ","));
  }
  n->services_ = std::make_unique<controllers::Informer>(api, client::resources::kServices);
  n->slices_ = std::make_unique<controllers::Informer>(api, client::resources::kEndpointSlices);
  n->policies_ = std::make_unique<controllers::Informer>(api, client::resources::kNetworkPolicies);
  n->all_pods_ = std::make_unique<controllers::Informer>(api, client::resources::kPods);
  n->namespaces_ = std::make_unique<controllers::Informer>(api, client::resources::kNamespaces);
  for (controllers::Informer* i : {n->services_.get(), n->slices_.get(), n->policies_.get(), n->all_pods_.get(), n->namespaces_.get()}) {
    const bool services_changed = i == n->services_.get() || i == n->slices_.get();
    auto dirty = [raw, services_changed] { raw->MarkDirty(services_changed, !services_changed); };
    i->AddHandlers({[dirty](const controllers::ObjectPtr&) { dirty(); },
                    [dirty](const controllers::ObjectPtr&, const controllers::ObjectPtr&) { dirty(); },
                    [dirty](const controllers::ObjectPtr&) { dirty(); }});
    i->Start();
  }
  n->proxy_thread_ = std::thread([raw] { raw->ProxyLoop(); });
  return n;
}

NodeNetwork::~NodeNetwork() {
  {
    std::lock_guard<std::mutex> lock(proxy_mu_);
    proxy_stopping_ = true;
  }
  proxy_cv_.notify_all();
  if (proxy_thread_.joinable()) proxy_thread_.join();
  dns_.reset();
  for (auto* i : {nodes_.get(), services_.get(), slices_.get(), policies_.get(), all_pods_.get(), namespaces_.get()}) {
    if (i) i->Stop();
  }
}

std::vector<std::string> NodeNetwork::ServiceEnvironment(const std::string& ns, bool service_links) const {
  std::vector<controllers::ObjectPtr> services = services_->List();
  std::vector<const json::Value*> raw;
  for (const auto& s : services) raw.push_back(s.get());
  return ServiceEnv(raw, ns, service_links);
}

void NodeNetwork::MarkDirty(bool services, bool policies) {
  {
    std::lock_guard<std::mutex> lock(proxy_mu_);
    services_dirty_ = services_dirty_ || services;
    policies_dirty_ = policies_dirty_ || policies;
  }
  proxy_cv_.notify_all();
}

bool NodeNetwork::SyncServices() {
  std::vector<controllers::ObjectPtr> services = services_->List(), slices = slices_->List();
  std::vector<const json::Value*> raw_services, raw_slices;
  for (const auto& s : services) raw_services.push_back(s.get());
  for (const auto& s : slices) raw_slices.push_back(s.get());
  if (dns_) dns_->SetZone(dns::ClusterZone::Build(raw_services, raw_slices, options_.cluster_domain));
  if (!table_) table_ = std::make_unique<ServiceTableCache>(ServiceRulesOptions{cluster_cidr_, service_cidr_});
  table_->Refresh(raw_services, raw_slices);
  // The whole table once (at start, or to recover from a failed sync); then only the Services
  // that changed, which is what keeps one Service change cheap among thousands.
  const bool incremental = table_->HasProgrammed();
  std::string script = table_->Script();
  absl::Status s = script.empty() ? absl::OkStatus() : driver_->ApplyNftables(script);
  if (!s.ok() && incremental) {
    BERTH_LOG(Warning, "agent.proxy", "Incremental Service sync failed; replacing the table", "error", s.ToString());
    table_->ForgetProgrammed();
    s = driver_->ApplyNftables(table_->Script());
  }
  if (!s.ok()) {
    table_->ForgetProgrammed();
    BERTH_LOG(Error, "agent.proxy", "Cannot program the Service table; retrying", "error", s.ToString());
    return false;
  }
  table_->MarkProgrammed();
  latency_->Applied(raw_slices, RealClock::Get().Now());
  return true;
}

std::string NodeNetwork::RenderMetrics() const {
  std::string out;
  latency_->Render(out);
  absl::StrAppend(&out,
                  "# HELP berth_pod_network_spares_taken_total Pods whose network set-up took a spare sandbox.\n"
                  "# TYPE berth_pod_network_spares_taken_total counter\n"
                  "berth_pod_network_spares_taken_total ", pods_->spares_taken(), "\n",
                  "# HELP berth_pod_network_spares_missed_total Pods wired from scratch because no spare was ready.\n"
                  "# TYPE berth_pod_network_spares_missed_total counter\n"
                  "berth_pod_network_spares_missed_total ", pods_->spares_missed(), "\n",
                  "# HELP berth_pod_network_spares_ready Spare sandboxes ready now.\n"
                  "# TYPE berth_pod_network_spares_ready gauge\n"
                  "berth_pod_network_spares_ready ", pods_->SparesReady(), "\n");
  return out;
}

bool NodeNetwork::SyncPolicies() {
  std::vector<controllers::ObjectPtr> policies = policies_->List();
  // Without a NetworkPolicy the table does not depend on pods: every pod status event would
  // otherwise rebuild it from every pod in the cluster, in the loop Service changes wait on.
  std::vector<controllers::ObjectPtr> pods = policies.empty() ? std::vector<controllers::ObjectPtr>{} : all_pods_->List();
  std::vector<controllers::ObjectPtr> namespaces = namespaces_->List();
  std::vector<const json::Value*> raw_policies, raw_pods, raw_namespaces;
  for (const auto& o : policies) raw_policies.push_back(o.get());
  for (const auto& o : pods) raw_pods.push_back(o.get());
  for (const auto& o : namespaces) raw_namespaces.push_back(o.get());
  std::string script = PolicyTableScript(raw_policies, raw_pods, raw_namespaces, options_.node_name);
  if (script == last_policy_table_) return true;
  absl::Status applied = driver_->ApplyNftables(script);
  if (!applied.ok()) {
    BERTH_LOG(Error, "agent.policy", "Cannot program the NetworkPolicy table; retrying", "error", applied.ToString());
    return false;
  }
  last_policy_table_ = std::move(script);
  return true;
}

void NodeNetwork::ProxyLoop() {
  // The first tables wait for every list: a table from half the state would drop connections.
  while (!services_->WaitForSync(absl::Milliseconds(200)) || !slices_->WaitForSync(absl::Milliseconds(200)) ||
         !policies_->WaitForSync(absl::Milliseconds(200)) || !all_pods_->WaitForSync(absl::Milliseconds(200)) ||
         !namespaces_->WaitForSync(absl::Milliseconds(200))) {
    std::lock_guard<std::mutex> lock(proxy_mu_);
    if (proxy_stopping_) return;
  }
  MarkDirty(true, true);
  for (;;) {
    bool services = false, policies = false;
    {
      std::unique_lock<std::mutex> lock(proxy_mu_);
      proxy_cv_.wait(lock, [&] { return services_dirty_ || policies_dirty_ || proxy_stopping_; });
      if (proxy_stopping_) return;
      std::swap(services, services_dirty_);
      std::swap(policies, policies_dirty_);
    }
    // Pod events (status updates above all) touch only the policy table; Service and slice
    // events only the Service table and the DNS zone.
    bool retry_services = services && !SyncServices();
    bool retry_policies = policies && !SyncPolicies();
    if (retry_services || retry_policies) {
      std::unique_lock<std::mutex> lock(proxy_mu_);
      proxy_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return proxy_stopping_; });
      services_dirty_ = services_dirty_ || retry_services;
      policies_dirty_ = policies_dirty_ || retry_policies;
    }
  }
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
