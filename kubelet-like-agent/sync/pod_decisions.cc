#include "kubelet-like-agent/sync/pod_decisions.h"

#include <algorithm>
#include <functional>

#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::agent {

std::string ContainerId(const std::string& pod_uid, const std::string& container_name) {
  return pod_uid + "_" + container_name;
}

const json::Array& Containers(const json::Value& pod, const char* field) {
  static const json::Array empty;
  const json::Value* v = pod.Get({"spec", field});
  return v && v->is_array() ? v->as_array() : empty;
}

int64_t IntOr(const json::Value* v, int64_t fallback) { return v && v->is_int() ? v->as_int() : fallback; }

json::Value Obj(std::initializer_list<std::pair<const char*, json::Value>> fields) {
  json::Value v = json::Value::MakeObject();
  for (const auto& [k, x] : fields) v.Set(k, x);
  return v;
}

std::string SpecHash(const json::Value& container) {
  return StrCat(std::hash<std::string>{}(json::Serialize(container)));
}

std::string PodFormat(const json::Value& pod) {
  return absl::StrCat(pod.GetString({"metadata", "name"}), "_", pod.GetString({"metadata", "namespace"}), "(",
                      pod.GetString({"metadata", "uid"}), ")");
}

bool IsSidecar(const json::Value& init_container) { return init_container.GetString({"restartPolicy"}) == "Always"; }

bool HostNetwork(const json::Value& pod) {
  const json::Value* h = pod.Get({"spec", "hostNetwork"});
  return h != nullptr && h->is_bool() && h->as_bool();
}

absl::Duration GracePeriod(const json::Value& pod) {
  const json::Value* deletion = pod.Get({"metadata", "deletionGracePeriodSeconds"});
  const json::Value* spec = pod.Get({"spec", "terminationGracePeriodSeconds"});
  int64_t seconds = deletion && deletion->is_int() ? deletion->as_int() : spec && spec->is_int() ? spec->as_int() : 30;
  return absl::Seconds(std::max<int64_t>(0, seconds));
}

bool NeedsSync(const json::Value& before, const json::Value& after) {
  auto same = [&](std::initializer_list<std::string_view> path) {
    const json::Value* a = before.Get(path);
    const json::Value* b = after.Get(path);
    return a == nullptr ? b == nullptr : b != nullptr && *a == *b;
  };
  return !same({"spec"}) || !same({"metadata", "uid"}) || !same({"metadata", "labels"}) ||
         !same({"metadata", "annotations"}) || !same({"metadata", "deletionTimestamp"}) ||
         !same({"metadata", "deletionGracePeriodSeconds"}) || !same({"status", "phase"});
}

bool RestartAllowed(const std::string& restart_policy, int64_t exit_code) {
  return restart_policy == "Always" || (restart_policy == "OnFailure" && exit_code != 0);
}

std::optional<LostRun> FindLostRun(const json::Value& reported, const std::string& now) {
  if (!reported.is_object()) return std::nullopt;
  int runs = static_cast<int>(IntOr(reported.Find("restartCount"), 0)) + 1;
  if (const json::Value* ended = reported.Get({"state", "terminated"})) return LostRun{*ended, runs};
  const json::Value* running = reported.Get({"state", "running"});
  const json::Value* last = reported.Get({"lastState", "terminated"});
  if (running == nullptr && last == nullptr) return std::nullopt;  // it never ran
  if (running == nullptr) return LostRun{*last, runs};  // waiting between runs (back-off)
  return LostRun{Obj({{"exitCode", 137},
                      {"reason", "ContainerStatusUnknown"},
                      {"message", "The container could not be located when the agent restarted: its processes and "
                                  "records were lost (a reboot?)"},
                      {"startedAt", running->GetString({"startedAt"})},
                      {"finishedAt", now}}),
                 runs};
}

absl::Duration CrashLoopDelay(int restarts, absl::Duration initial, absl::Duration max) {
  if (restarts <= 0) return absl::ZeroDuration();
  absl::Duration delay = initial;
  for (int i = 1; i < restarts && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

std::string PodPhase(const PhaseInputs& in) {
  if (in.deadline_exceeded || in.init_failed) return "Failed";
  if (in.terminal) return in.terminal_phase;
  if (!in.initialized) return "Pending";
  if (in.waiting > 0 && in.running == 0 && in.terminated == 0) return "Pending";
  if (in.running > 0 || in.waiting > 0) return "Running";
  if (in.terminated == in.containers) {
    if (in.restart_policy == "Always") return "Running";
    if (in.failed == 0) return "Succeeded";
    return in.restart_policy == "OnFailure" ? "Running" : "Failed";
  }
  return "Pending";
}

}  // namespace berth::agent
