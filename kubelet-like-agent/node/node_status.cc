#include "kubelet-like-agent/node/node_status.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <dirent.h>
#include <fstream>
#include <sstream>

#include "core/object/conditions.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::agent {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return std::string(Strip(line));
}

int64_t MeminfoKb(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  std::string k;
  int64_t v;
  std::string unit;
  while (f >> k >> v) {
    std::getline(f, unit);
    if (k == key + ":") return v;
  }
  return 0;
}

std::string OsImage() {
  std::ifstream f("/etc/os-release");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "Linux";
}

json::Value Condition(const std::string& type, bool status, const std::string& reason, const std::string& message,
                      const std::string& now) {
  json::Value c = json::Value::MakeObject();
  c.Set("type", type);
  c.Set("status", status ? "True" : "False");
  c.Set("reason", reason);
  c.Set("message", message);
  c.Set("lastHeartbeatTime", now);
  c.Set("lastTransitionTime", now);
  return c;
}

std::string Bytes(int64_t b) { return StrCat(b / 1024, "Ki"); }

}  // namespace

MachineInfo ReadMachineInfo() {
  MachineInfo m;
  m.cpu_millis = static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN)) * 1000;
  m.memory_bytes = MeminfoKb("MemTotal") * 1024;
  m.memory_available_bytes = MeminfoKb("MemAvailable") * 1024;
  m.pid_max = std::stoll("0" + ReadFirstLine("/proc/sys/kernel/pid_max"));
  int64_t pids = 0;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') ++pids;
    }
    closedir(d);
  }
  m.pids_in_use = pids;
  m.machine_id = ReadFirstLine("/etc/machine-id");
  m.boot_id = ReadFirstLine("/proc/sys/kernel/random/boot_id");
  struct utsname u;
  if (uname(&u) == 0) m.kernel_version = u.release;
  m.os_image = OsImage();
  return m;
}

json::Value BuildNodeStatus(const NodeConfig& config, const MachineInfo& machine, absl::Time now_time) {
  std::string now = FormatRfc3339(now_time);
  json::Value status = json::Value::MakeObject();
  json::Value capacity = json::Value::MakeObject();
  capacity.Set("cpu", StrCat(machine.cpu_millis / 1000));
  capacity.Set("memory", Bytes(machine.memory_bytes));
  capacity.Set("pods", StrCat(config.max_pods));
  capacity.Set("ephemeral-storage", "0");
  json::Value allocatable = json::Value::MakeObject();
  allocatable.Set("cpu", StrCat(std::max<int64_t>(0, machine.cpu_millis - config.reserved_cpu_millis), "m"));
  allocatable.Set("memory", Bytes(std::max<int64_t>(0, machine.memory_bytes - config.reserved_memory_bytes)));
  allocatable.Set("pods", StrCat(config.max_pods));
  allocatable.Set("ephemeral-storage", "0");
  status.Set("capacity", std::move(capacity));
  status.Set("allocatable", std::move(allocatable));
  // Kubernetes' eviction defaults: memory.available < 100Mi; PIDs: our own 90% mark.
  bool memory_pressure = machine.memory_available_bytes > 0 && machine.memory_available_bytes < (100 << 20);
  bool pid_pressure = machine.pid_max > 0 && machine.pids_in_use * 10 > machine.pid_max * 9;
  json::Value conditions = json::Value::MakeArray();
  conditions.as_array().push_back(Condition("MemoryPressure", memory_pressure,
                                            memory_pressure ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
                                            StrCat("available memory ", machine.memory_available_bytes >> 20, "Mi"), now));
  conditions.as_array().push_back(Condition("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now));
  conditions.as_array().push_back(Condition("PIDPressure", pid_pressure,
                                            pid_pressure ? "KubeletHasInsufficientPID" : "KubeletHasSufficientPID",
                                            StrCat(machine.pids_in_use, " of ", machine.pid_max, " PIDs in use"), now));
  conditions.as_array().push_back(Condition("Ready", true, "KubeletReady", "berth-agent is posting ready status", now));
  status.Set("conditions", std::move(conditions));
  json::Value addresses = json::Value::MakeArray();
  json::Value internal = json::Value::MakeObject();
  internal.Set("type", "InternalIP");
  internal.Set("address", config.address);
  json::Value host = json::Value::MakeObject();
  host.Set("type", "Hostname");
  host.Set("address", config.name);
  addresses.as_array().push_back(std::move(internal));
  addresses.as_array().push_back(std::move(host));
  status.Set("addresses", std::move(addresses));
  status.Ensure({"daemonEndpoints", "kubeletEndpoint"}).Set("Port", config.port);
  json::Value& info = status.Ensure({"nodeInfo"});
  info.Set("machineID", machine.machine_id);
  info.Set("systemUUID", machine.machine_id);
  info.Set("bootID", machine.boot_id);
  info.Set("kernelVersion", machine.kernel_version);
  info.Set("osImage", machine.os_image);
  info.Set("containerRuntimeVersion", config.runtime_version);
  info.Set("kubeletVersion", "v1.32.4");
  info.Set("kubeProxyVersion", "v1.32.4");
  info.Set("operatingSystem", "linux");
  info.Set("architecture", "amd64");
  if (machine.images.is_array()) status.Set("images", machine.images);
  return status;
}

json::Value BuildNode(const NodeConfig& config, const MachineInfo& machine, absl::Time now) {
  json::Value node = json::Value::MakeObject();
  node.Set("apiVersion", "v1");
  node.Set("kind", "Node");
  json::Value& meta = node.Ensure({"metadata"});
  meta.Set("name", config.name);
  json::Value labels = json::Value::MakeObject();
  labels.Set("kubernetes.io/hostname", config.name);
  labels.Set("kubernetes.io/os", "linux");
  labels.Set("kubernetes.io/arch", "amd64");
  labels.Set("beta.kubernetes.io/os", "linux");
  labels.Set("beta.kubernetes.io/arch", "amd64");
  for (const auto& [k, v] : config.labels) labels.Set(k, v);
  meta.Set("labels", std::move(labels));
  if (!config.annotations.empty()) {
    json::Value annotations = json::Value::MakeObject();
    for (const auto& [k, v] : config.annotations) annotations.Set(k, v);
    meta.Set("annotations", std::move(annotations));
  }
  json::Value& spec = node.Ensure({"spec"});
  if (config.taints.is_array() && config.taints.size() > 0) spec.Set("taints", config.taints);
  node.Set("status", BuildNodeStatus(config, machine, now));
  return node;
}

void KeepTransitionTimes(json::Value& status, const json::Value& previous_conditions) {
  json::Value* conditions = status.Find("conditions");
  if (conditions == nullptr || !conditions->is_array() || !previous_conditions.is_array()) return;
  json::Value previous = json::Value::MakeObject();
  previous.Ensure({"status"}).Set("conditions", previous_conditions);
  for (json::Value& c : conditions->as_array()) {
    std::string now = c.GetString({"lastTransitionTime"});
    c.Set("lastTransitionTime", object::TransitionTime(previous, c.GetString({"type"}), c.GetString({"status"}), now));
  }
}

}  // namespace berth::agent
