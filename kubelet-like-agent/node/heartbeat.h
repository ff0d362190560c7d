#pragma once
// File: kubelet-like-agent/node/heartbeat.h
// Registers the agent's Node objects (one, or thousands of hollow ones) and keeps them alive:
// the Lease in kube-node-lease renewed every `lease_interval` (what the node lifecycle
// controller watches), the status (conditions, capacity) refreshed every `status_interval`.
// One thread serves every node of the process.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/client/api_client.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/node/node_status.h"

namespace berth::agent {

struct HeartbeatOptions {
  absl::Duration lease_interval = absl::Seconds(2);
  absl::Duration status_interval = absl::Seconds(10);
  int64_t lease_duration_seconds = 40;
};

class NodeHeartbeat {
 public:
  NodeHeartbeat(client::ApiClient& api, std::vector<NodeConfig> nodes, std::function<MachineInfo()> machine,
                HeartbeatOptions options = {}, const Clock& clock = RealClock::Get());
  ~NodeHeartbeat();

  // Registers every node (create, or refresh an existing one), then starts the renewals.
  absl::Status RegisterAll();
  void Start();
  void Stop();
  // One renewal round (tests, and the loop).
  void RenewLeases();
  void UpdateStatuses();

 private:
  absl::Status Register(const NodeConfig& node);
  absl::Status RenewLease(const std::string& node);

  client::ApiClient& api_;
  const std::vector<NodeConfig> nodes_;
  std::function<MachineInfo()> machine_;
  const HeartbeatOptions options_;
  const Clock& clock_;
  std::map<std::string, json::Value> leases_;  // last seen, for resourceVersion-checked updates
  std::map<std::string, json::Value> conditions_;  // by node: the conditions last reported
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::agent
