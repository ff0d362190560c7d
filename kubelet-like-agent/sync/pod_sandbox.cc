// File: kubelet-like-agent/sync/pod_sandbox.cc
// The PodSync's pod sandbox: the pod's network namespace and address from the node network, and
// the /etc files (resolv.conf, hosts) its containers share; torn down with the pod.
#include "kubelet-like-agent/sync/pod_sync.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "core/log/log.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/sync/pod_decisions.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;

// Replaced whole (a container that starts while it is rewritten sees the old file or the new).
absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.flush()) return absl::UnavailableError(StrCat("writing ", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(StrCat("writing ", path, ": ", ec.message()));
  return absl::OkStatus();
}


}  // namespace

std::string PodSync::PodAddress(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pod_ips_.find(uid);
  return it == pod_ips_.end() ? options_.node_address : it->second;
}

bool PodSync::EnsureSandbox(const json::Value& pod, PodMemo& memo) {
  if (options_.network == nullptr && !memo.told_fields_not_applied) {
    memo.told_fields_not_applied = true;
    std::vector<std::string> fields = network::FieldsOnlyThePodNetworkApplies(pod);
    if (!fields.empty()) {
      Event(pod, "Warning", "PodNetworkFieldsNotApplied",
            StrCat(absl::StrJoin(fields, " and "), " not applied: node ", pod.GetString({"spec", "nodeName"}),
                   " runs pods on its own network (its agent has no --pod-network=bridge)"));
    }
  }
  if (options_.network == nullptr || HostNetwork(pod) || memo.sandbox) return true;
  const std::string uid = pod.GetString({"metadata", "uid"});
  bool isolated = pod.GetString({"metadata", "annotations", "berth.dev/network"}) == "isolated";
  std::vector<network::HostPort> host_ports;
  for (const char* field : {"initContainers", "containers"}) {
    for (const json::Value& c : Containers(pod, field)) {
      const json::Value* ports = c.Find("ports");
      if (ports == nullptr || !ports->is_array()) continue;
      for (const json::Value& p : ports->as_array()) {
        int64_t host_port = IntOr(p.Find("hostPort"), 0);
        if (host_port <= 0) continue;
        std::string protocol = absl::AsciiStrToLower(p.GetString({"protocol"}, "TCP"));
        host_ports.push_back({protocol, static_cast<int>(host_port), static_cast<int>(IntOr(p.Find("containerPort"), 0))});
      }
    }
  }
  auto sandbox = options_.network->SetUp(uid, isolated, host_ports);
  absl::Status files = sandbox.status();
  if (sandbox.ok()) {
    // The kubelet's files, written before any container mounts them.
    std::error_code ec;
    std::string etc = StrCat(volumes_.PodDir(uid), "/etc");
    fs::create_directories(etc, ec);
    auto resolv = network::PodResolvConf(pod, options_.dns, false);
    files = resolv.status();
    if (files.ok()) files = WriteFileAtomically(etc + "/resolv.conf", *resolv);
    if (files.ok()) files = WriteFileAtomically(etc + "/hosts", network::PodHostsFile(pod, sandbox->ip, options_.dns.cluster_domain));
  }
  if (!files.ok()) {
    std::string message = StrCat("Failed to create pod sandbox: ", files.message());
    if (message != memo.network_error) Event(pod, "Warning", "FailedCreatePodSandBox", message);
    memo.network_error = message;
    return false;
  }
  memo.network_error.clear();
  memo.sandbox = *sandbox;
  std::lock_guard<std::mutex> lock(mu_);
  if (!sandbox->ip.empty()) pod_ips_[uid] = sandbox->ip;
  return true;
}

void PodSync::TearDownSandbox(const std::string& uid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pod_ips_.erase(uid);
  }
  if (options_.network == nullptr) return;
  absl::Status s = options_.network->TearDown(uid);
  if (!s.ok()) BERTH_LOG(Warning, "agent.network", "Pod network teardown incomplete", "uid", uid, "error", s.ToString());
}

}  // namespace berth::agent
