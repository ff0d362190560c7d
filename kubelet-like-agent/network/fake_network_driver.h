#pragma once
// File: kubelet-like-agent/network/fake_network_driver.h
// A NetworkDriver that keeps the node's network in memory: namespaces, links, routes and the
// last nft script. For unit tests of the pod network, routes and rule generation.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "kubelet-like-agent/network/network_driver.h"

namespace berth::agent::network {

class FakeNetworkDriver final : public NetworkDriver {
 public:
  absl::Status EnsureBridge(const std::string& name, uint32_t gateway, int prefix_length) override {
    std::lock_guard<std::mutex> lock(mu_);
    bridges[name] = {gateway, prefix_length};
    return absl::OkStatus();
  }
  absl::Status CreateNetns(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    netns.insert(path);
    std::ofstream(path).flush();  // the pinned file, as the real driver leaves it
    return absl::OkStatus();
  }
  absl::Status DeleteNetns(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    netns.erase(path);
    std::remove(path.c_str());
    return absl::OkStatus();
  }
  absl::Status AddPodLink(const PodLink& link) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!netns.count(link.netns_path)) return absl::FailedPreconditionError("no such netns " + link.netns_path);
    if (links.count(link.host_ifname)) return absl::AlreadyExistsError(link.host_ifname);
    if (fail_next_link) {
      fail_next_link = false;
      return absl::InternalError("injected failure");
    }
    links[link.host_ifname] = link;
    return absl::OkStatus();
  }
  absl::Status MoveNetns(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!netns.erase(from)) return absl::FailedPreconditionError("no such netns " + from);
    netns.insert(to);
    std::rename(from.c_str(), to.c_str());
    for (auto& [name, link] : links) {
      if (link.netns_path == from) link.netns_path = to;  // its eth0 lives in that namespace
    }
    return absl::OkStatus();
  }
  absl::Status AddSpareLink(const std::string& netns_path, const std::string& host_ifname, const std::string& bridge) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!netns.count(netns_path)) return absl::FailedPreconditionError("no such netns " + netns_path);
    if (links.count(host_ifname)) return absl::AlreadyExistsError(host_ifname);
    PodLink spare;
    spare.netns_path = netns_path;
    spare.host_ifname = host_ifname;
    spare.bridge = bridge;
    links[host_ifname] = spare;
    return absl::OkStatus();
  }
  absl::Status ClaimSpareLink(const std::string& spare_ifname, const PodLink& link) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++claims;
    auto spare = links.find(spare_ifname);
    if (spare == links.end()) return absl::NotFoundError("no spare " + spare_ifname);
    links.erase(spare);  // the real driver deletes it when the claim fails
    if (!netns.count(link.netns_path)) return absl::FailedPreconditionError("no such netns " + link.netns_path);
    if (fail_next_claim) {
      fail_next_claim = false;
      return absl::InternalError("injected failure");
    }
    links[link.host_ifname] = link;
    return absl::OkStatus();
  }
  absl::Status DeleteLink(const std::string& ifname) override {
    std::lock_guard<std::mutex> lock(mu_);
    links.erase(ifname);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> BridgePorts(const std::string& bridge) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [name, l] : links) if (l.bridge == bridge) out.push_back(name);
    return out;
  }
  absl::Status ReplaceRoute(const Route& route) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++route_writes;
    routes[route.destination] = route;
    return absl::OkStatus();
  }
  absl::Status DeleteRoute(const net::Ipv4Prefix& destination) override {
    std::lock_guard<std::mutex> lock(mu_);
    routes.erase(destination);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Route>> OwnRoutes() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Route> out;
    for (const auto& [d, r] : routes) out.push_back(r);
    return out;
  }
  absl::Status ApplyNftables(const std::string& script) override {
    std::lock_guard<std::mutex> lock(mu_);
    nft_scripts.push_back(script);
    return absl::OkStatus();
  }
  absl::StatusOr<int> NodeSocket(int, int) override { return absl::UnimplementedError("fake"); }
  absl::Status AddLocalAddress(uint32_t address) override {
    std::lock_guard<std::mutex> lock(mu_);
    local_addresses.insert(address);
    return absl::OkStatus();
  }
  std::set<uint32_t> local_addresses;

  std::mutex mu_;
  std::map<std::string, std::pair<uint32_t, int>> bridges;
  std::set<std::string> netns;
  std::map<std::string, PodLink> links;
  std::map<net::Ipv4Prefix, Route> routes;
  std::vector<std::string> nft_scripts;
  int route_writes = 0;
  bool fail_next_link = false;
  bool fail_next_claim = false;
  int claims = 0;
};

}  // namespace berth::agent::network
