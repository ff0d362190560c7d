#pragma once
// File: kubelet-like-agent/node/node_status.h
// The Node object an agent registers and keeps true: capacity read from the machine,
// allocatable = capacity - reserved, labels and taints from flags, nodeInfo with all ten fields
// (the Python client rejects a Node without them), addresses, the agent's port in
// daemonEndpoints (the apiserver proxies pods/log there), and the conditions Ready,
// MemoryPressure, DiskPressure and PIDPressure measured on the machine.

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "core/json/value.h"

namespace berth::agent {

struct MachineInfo {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int64_t memory_available_bytes = 0;
  int64_t pid_max = 0;
  int64_t pids_in_use = 0;
  std::string machine_id, boot_id, kernel_version, os_image;
  json::Value images;  // status.images ([{names, sizeBytes}]) when an array
};

MachineInfo ReadMachineInfo();

struct NodeConfig {
  std::string name;
  std::string address = "127.0.0.1";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;  // set at registration (berth.dev/pod-network-ip)
  json::Value taints;  // array of {key, value, effect}
  int64_t reserved_cpu_millis = 0;
  int64_t reserved_memory_bytes = 0;
  int64_t max_pods = 110;
  int port = 0;        // the agent's HTTP port (logs)
  std::string runtime_version = "berth://0.1.0";
};

// The whole Node for registration.
json::Value BuildNode(const NodeConfig& config, const MachineInfo& machine, absl::Time now);
// Only `status` (for the periodic update): conditions with fresh heartbeats.
json::Value BuildNodeStatus(const NodeConfig& config, const MachineInfo& machine, absl::Time now);
// A condition's lastTransitionTime says when its status last changed: conditions in `status`
// whose status is the same as in `previous_conditions` (what was last reported) keep the
// previous time.
void KeepTransitionTimes(json::Value& status, const json::Value& previous_conditions);

}  // namespace berth::agent
