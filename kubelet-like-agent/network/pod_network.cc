// File: kubelet-like-agent/network/pod_network.cc
#include "kubelet-like-agent/network/pod_network.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"

namespace berth::agent::network {
namespace fs = std::filesystem;
using absl::StrCat;

namespace {
PodNetworkOptions WithDefaults(PodNetworkOptions o) {
  if (o.spares_dir.empty()) o.spares_dir = o.netns_dir + "-spares";
  return o;
}
}  // namespace

PodNetwork::PodNetwork(NetworkDriver& driver, PodNetworkOptions options)
    : driver_(driver), options_(WithDefaults(std::move(options))) {
  std::error_code ec;
  fs::create_directories(options_.netns_dir, ec);
  fs::create_directories(options_.ipam_dir, ec);
  RemoveStaleSpares();
  if (options_.spares > 0) {
    fs::create_directories(options_.spares_dir, ec);
    spare_prefix_ = std::random_device{}() & 0xffffff;
    refill_ = std::thread([this] { RefillSpares(); });
  }
}

PodNetwork::~PodNetwork() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  spares_cv_.notify_all();
  if (refill_.joinable()) refill_.join();
  // Spares are not pods: nothing needs them after the agent, so they go with it.
  for (const Spare& spare : spares_) DiscardSpare(spare);
}

void PodNetwork::RemoveStaleSpares() {
  std::error_code ec;
  // Each pinned spare is named after its link, so both go together.
  for (const auto& entry : fs::directory_iterator(options_.spares_dir, ec)) {
    DiscardSpare({entry.path().string(), entry.path().filename().string()});
  }
  // A crash in the middle of a claim leaves the spare's link unrenamed, its peer already in the
  // pod's namespace (where it would block the pod's own eth0): no spare of this run exists yet,
  // so every spare link on the bridge is such a leftover.
  if (auto ports = driver_.BridgePorts(options_.bridge); ports.ok()) {
    for (const std::string& port : *ports) {
      if (port.rfind("bsp", 0) == 0) (void)driver_.DeleteLink(port);
    }
  }
}

void PodNetwork::DiscardSpare(const Spare& spare) {
  (void)driver_.DeleteLink(spare.ifname);
  (void)driver_.DeleteNetns(spare.netns_path);
}

size_t PodNetwork::SparesReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spares_.size();
}

void PodNetwork::RefillSpares() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Spares need the bridge, which exists once the node has its podCIDR.
    spares_cv_.wait(lock, [&] { return stopping_ || (ipam_ && spares_.size() < static_cast<size_t>(options_.spares)); });
    if (stopping_) return;
    char name[16];
    std::snprintf(name, sizeof name, "bsp%06x%04x", spare_prefix_, spare_seq_++ & 0xffff);
    Spare spare{options_.spares_dir + "/" + name, name};
    lock.unlock();
    absl::Status s = driver_.CreateNetns(spare.netns_path);
    if (s.ok()) s = driver_.AddSpareLink(spare.netns_path, spare.ifname, options_.bridge);
    if (!s.ok()) DiscardSpare(spare);
    lock.lock();
    if (s.ok()) {
      spares_.push_back(std::move(spare));
      continue;
    }
    BERTH_LOG(Warning, "agent.network", "Could not prepare a spare pod sandbox; pods are wired from scratch meanwhile",
              "error", s.ToString());
    spares_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return stopping_; });
  }
}

std::optional<PodNetwork::Spare> PodNetwork::TakeSpare(const std::string& pod_netns_path) {
  if (options_.spares <= 0) return std::nullopt;
  std::error_code ec;
  if (fs::exists(pod_netns_path, ec)) return std::nullopt;  // set up before: found again as it is
  std::lock_guard<std::mutex> lock(mu_);
  if (spares_.empty()) {
    ++spares_missed_;
    return std::nullopt;
  }
  Spare spare = std::move(spares_.front());
  spares_.pop_front();
  ++spares_taken_;
  // No refill yet: it would share the driver's one netlink thread with this pod's claim; the
  // set-up wakes the refill when it is done.
  return spare;
}

std::string PodNetwork::HostInterface(const std::string& uid) {
  std::string hex;
  for (char c : uid) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    if (hex.size() == 11) break;
  }
  return "veth" + hex;
}

std::optional<net::Ipv4Prefix> PodNetwork::pod_cidr() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ipam_) return std::nullopt;
  return ipam_->range();
}

absl::Status PodNetwork::SetPodCidr(const net::Ipv4Prefix& pod_cidr) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ipam_ && ipam_->range() == pod_cidr) return absl::OkStatus();
  if (pod_cidr.length > 30) return absl::InvalidArgumentError(StrCat("podCIDR ", pod_cidr.ToString(), " is too small for pods"));
  HostLocalIpam ipam(options_.ipam_dir, pod_cidr);
  absl::Status s = driver_.EnsureBridge(options_.bridge, ipam.gateway(), pod_cidr.length);
  if (!s.ok()) return s;
  // Unknown pod subnets never follow a default route off the node, and host processes reach
  // Service addresses through the bridge (where the Service table rewrites them).
  s = driver_.ReplaceRoute(Route{options_.cluster_cidr, 0, true, ""});
  if (!s.ok()) return s;
  s = driver_.ReplaceRoute(Route{options_.service_cidr, 0, false, options_.bridge});
  if (!s.ok()) return s;
  ipam_ = ipam;
  spares_cv_.notify_all();  // the bridge exists: spares can be made
  s = ApplyNodeTable();
  if (!s.ok()) return s;
  BERTH_LOG(Info, "agent.network", "Pod network ready", "podCIDR", pod_cidr.ToString(), "bridge", options_.bridge,
            "gateway", net::FormatIpv4(ipam_->gateway()));
  return absl::OkStatus();
}

absl::Status PodNetwork::ApplyNodeTable() {
  if (!ipam_) return absl::OkStatus();
  std::string bridge_cidr = net::Ipv4Prefix{ipam_->range().network, ipam_->range().length}.ToString();
  return driver_.ApplyNftables(NodeTableScript(options_, bridge_cidr, host_ports_));
}

std::string NodeTableScript(const PodNetworkOptions& o, const std::string& bridge_cidr,
                            const std::map<std::string, std::pair<uint32_t, std::vector<HostPort>>>& host_ports) {
  const std::string cluster = o.cluster_cidr.ToString(), services = o.service_cidr.ToString();
  std::string s = StrCat("table ip berth-node {}\ndelete table ip berth-node\ntable ip berth-node {\n",
                         // Priorities as numbers: nft 1.0.6 refuses the names on some hooks (brief F5).
                         "  chain pod-egress {\n    type filter hook forward priority 0; policy accept;\n",
                         "    ct state established,related accept\n", "    iifname \"", o.bridge, "\" ip daddr { ", cluster,
                         ", ", services, " } accept\n");
  // A Service may send a pod's connection beyond the cluster's ranges: the `kubernetes`
  // Service to the apiserver's address, a Service without a selector to the endpoints its
  // owner wrote. The pod asked for the Service, not for that address, so the Service's DNAT
  // (ct status dnat) lets it through even when other egress is dropped.
  s += StrCat("    iifname \"", o.bridge, "\" ct status dnat accept\n");
  if (o.masquerade) s += StrCat("    iifname \"", o.bridge, "\" accept\n");
  else s += StrCat("    iifname \"", o.bridge, "\" drop\n");
  s += "  }\n  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n";
  // Behind the node, as everything leaving the cluster's ranges: the far end (an apiserver on
  // a machine that is no node) has no route back to a pod's address.
  if (o.masquerade) s += StrCat("    ip saddr ", bridge_cidr, " ip daddr != { ", cluster, ", ", services, " } masquerade\n");
  else s += StrCat("    ip saddr ", bridge_cidr, " ct status dnat ip daddr != { ", cluster, ", ", services, " } masquerade\n");
  s += "  }\n";
  std::string dnat;
  for (const auto& [uid, entry] : host_ports) {
    for (const HostPort& hp : entry.second) {
      dnat += StrCat("    fib daddr type local ip daddr != 127.0.0.0/8 ", hp.protocol, " dport ", hp.host_port, " dnat ip to ",
                     net::FormatIpv4(entry.first), ":", hp.container_port, "\n");
    }
  }
  s += StrCat("  chain hostports-prerouting {\n    type nat hook prerouting priority -100; policy accept;\n", dnat,
              "  }\n  chain hostports-output {\n    type nat hook output priority -100; policy accept;\n", dnat, "  }\n}\n");
  return s;
}

absl::StatusOr<PodSandbox> PodNetwork::SetUp(const std::string& uid, bool isolated, const std::vector<HostPort>& host_ports) {
  PodSandbox sandbox{NetnsPath(uid), ""};
  std::optional<HostLocalIpam> ipam;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ipam = ipam_;
  }
  if (!isolated && !ipam) {
    return absl::UnavailableError("network is not ready: the node has no spec.podCIDR yet");
  }
  std::optional<Spare> spare;
  if (!isolated) spare = TakeSpare(sandbox.netns_path);
  struct RefillAfter {
    std::condition_variable& cv;
    bool took;
    ~RefillAfter() {
      if (took) cv.notify_all();
    }
  } refill_after{spares_cv_, spare.has_value()};
  absl::Status s = absl::OkStatus();
  if (spare) {
    s = driver_.MoveNetns(spare->netns_path, sandbox.netns_path);
    if (!s.ok()) {
      BERTH_LOG(Warning, "agent.network", "Could not take a spare pod sandbox; wiring from scratch", "uid", uid, "error", s.ToString());
      DiscardSpare(*spare);
      spare.reset();
    }
  }
  if (!spare) s = driver_.CreateNetns(sandbox.netns_path);
  if (!s.ok()) return s;
  if (isolated) return sandbox;
  auto ip = ipam->Allocate(uid);
  if (!ip.ok()) {
    // The spare's eth0 is in the pod's namespace now and would block the one a retry makes.
    if (spare) (void)driver_.DeleteLink(spare->ifname);
    return ip.status();
  }
  sandbox.ip = net::FormatIpv4(*ip);
  PodLink link{sandbox.netns_path, HostInterface(uid), options_.bridge, *ip, ipam->range().length, ipam->gateway()};
  if (spare) {
    s = driver_.ClaimSpareLink(spare->ifname, link);
    if (!s.ok()) {
      // The driver deleted the spare's link; the namespace is the pod's now and gets a new one.
      BERTH_LOG(Warning, "agent.network", "Could not claim a spare pod link; wiring from scratch", "uid", uid, "error", s.ToString());
      spare.reset();
    }
  }
  if (!spare) {
    s = driver_.AddPodLink(link);
    if (s.code() == absl::StatusCode::kAlreadyExists) s = absl::OkStatus();  // set up by an earlier run of the agent
  }
  if (!s.ok()) {
    (void)ipam->Release(uid);
    return s;
  }
  if (!host_ports.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& entry = host_ports_[uid];
    if (entry.first != *ip || entry.second != host_ports) {
      entry = {*ip, host_ports};
      s = ApplyNodeTable();
      if (!s.ok()) return s;
    }
  }
  return sandbox;
}

std::optional<PodSandbox> PodNetwork::Find(const std::string& uid) const {
  std::error_code ec;
  if (!fs::exists(NetnsPath(uid), ec)) return std::nullopt;
  PodSandbox sandbox{NetnsPath(uid), ""};
  std::lock_guard<std::mutex> lock(mu_);
  if (ipam_) {
    if (auto ip = ipam_->Find(uid)) sandbox.ip = net::FormatIpv4(*ip);
  }
  return sandbox;
}

absl::Status PodNetwork::TearDown(const std::string& uid) {
  absl::Status result = driver_.DeleteLink(HostInterface(uid));
  std::optional<HostLocalIpam> ipam;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ipam = ipam_;
    if (host_ports_.erase(uid) > 0) {
      absl::Status s = ApplyNodeTable();
      if (result.ok()) result = s;
    }
  }
  HostLocalIpam any(options_.ipam_dir, ipam ? ipam->range() : net::Ipv4Prefix{});
  absl::Status s = any.Release(uid);
  if (result.ok()) result = s;
  s = driver_.DeleteNetns(NetnsPath(uid));
  if (result.ok()) result = s;
  return result;
}

void PodNetwork::CollectGarbage(const std::set<std::string>& live) {
  std::set<std::string> dead;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.netns_dir, ec)) {
    if (!live.count(entry.path().filename().string())) dead.insert(entry.path().filename().string());
  }
  HostLocalIpam any(options_.ipam_dir, net::Ipv4Prefix{});
  for (const auto& [ip, owner] : any.Allocations()) {
    if (!live.count(owner)) dead.insert(owner);
  }
  for (const std::string& uid : dead) {
    absl::Status s = TearDown(uid);
    BERTH_LOG(Info, "agent.network", "Removed the network of a pod that is gone", "uid", uid, "result", s.ToString());
  }
  // Ports on the bridge whose pod is gone (a crash between creating the veth and recording it).
  std::set<std::string> live_ports;
  for (const std::string& uid : live) live_ports.insert(HostInterface(uid));
  if (auto ports = driver_.BridgePorts(options_.bridge); ports.ok()) {
    for (const std::string& port : *ports) {
      if (port.rfind("veth", 0) == 0 && !live_ports.count(port)) (void)driver_.DeleteLink(port);
    }
  }
}

}  // namespace berth::agent::network
