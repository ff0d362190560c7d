#pragma once
// File: kubelet-like-agent/sync/pod_decisions.h
// The sync loop's decisions as pure functions of the pod, what the runtime reports and the
// time: whether a container restarts and after how long, what a lost run amounts to, the pod's
// phase. No runtime, API or clock here, so each rule is tested on its own.

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/json/value.h"

namespace berth::agent {

// Container id in the runtime: stable across restarts of the same container of the same pod.
std::string ContainerId(const std::string& pod_uid, const std::string& container_name);

// spec.<field> (containers, initContainers) as an array, empty when absent.
const json::Array& Containers(const json::Value& pod, const char* field);
int64_t IntOr(const json::Value* v, int64_t fallback);
// An object from its members.
json::Value Obj(std::initializer_list<std::pair<const char*, json::Value>> fields);
// Identifies a container's spec: a running container whose spec hash changed is replaced.
std::string SpecHash(const json::Value& container);

// The kubelet's format.Pod, for messages: "name_namespace(uid)".
std::string PodFormat(const json::Value& pod);
// A native sidecar: an init container with restartPolicy Always.
bool IsSidecar(const json::Value& init_container);
// spec.hostNetwork.
bool HostNetwork(const json::Value& pod);
// How long a stopping container gets before SIGKILL: the deletion's grace period when the pod
// is being deleted, else spec.terminationGracePeriodSeconds, else 30 s; never negative.
absl::Duration GracePeriod(const json::Value& pod);

// Whether an update of a pod from the watch asks for a sync, as the kubelet's
// podsDifferSemantically decides: its spec, labels, annotations or deletion changed. The
// status the agent writes itself comes back as an update too; syncing on that echo doubled the
// work of every start. Phase is the exception: a pod that became Succeeded or Failed stops its
// sidecars on the next sync.
bool NeedsSync(const json::Value& before, const json::Value& after);

// restartPolicy applied to an exit code.
bool RestartAllowed(const std::string& restart_policy, int64_t exit_code);

// A run the API saw that the runtime has no record of: how it ended as far as anyone can tell
// (the kubelet's ContainerStatusUnknown when it was running), and how many runs there were.
struct LostRun {
  json::Value terminated;
  int runs = 0;
};
std::optional<LostRun> FindLostRun(const json::Value& reported, const std::string& now);

// CrashLoopBackOff: no delay for the first restart since the last reset, then `initial`
// doubling up to `max` (10 s, 20 s, ... 5 min in the kubelet).
absl::Duration CrashLoopDelay(int restarts, absl::Duration initial, absl::Duration max);

// The pod's phase, as the kubelet's getPhase computes it from its containers.
struct PhaseInputs {
  bool deadline_exceeded = false;  // activeDeadlineSeconds passed
  bool init_failed = false;        // an init container failed and will not be retried
  bool terminal = false;           // already Succeeded or Failed: phases never go back
  std::string terminal_phase;
  bool initialized = false;        // every init container succeeded
  std::string restart_policy;
  int containers = 0, running = 0, waiting = 0, terminated = 0, failed = 0;
};
std::string PodPhase(const PhaseInputs& in);

}  // namespace berth::agent
