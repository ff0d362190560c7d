// File: kubelet-like-agent/sync/pod_termination.cc
// The PodSync's ends: a deleted pod's termination (containers in Kubernetes' order with their
// preStop hooks, then what they used, then the object), the removal of a replaced pod's
// containers, orphans found at start, and the stop of everything when the agent drains.
#include "kubelet-like-agent/sync/pod_sync.h"

#include <algorithm>
#include <future>
#include <set>

#include "core/strings/strings.h"
#include "kubelet-like-agent/sync/lifecycle_hooks.h"

namespace berth::agent {

using runtime::ContainerStatus;
using runtime::State;

void PodSync::RemovePodContainers(const std::string& key, const std::string& keep_uid) {
  auto all = runtime_.List();
  if (!all.ok()) return;
  std::set<std::string> uids;
  std::vector<std::future<void>> stops;
  for (const ContainerStatus& s : *all) {
    if (s.pod_key != key || s.pod_uid == keep_uid) continue;
    uids.insert(s.pod_uid);
    stops.push_back(std::async(std::launch::async, [this, id = s.id] {
      (void)runtime_.Stop(id, absl::Seconds(2));
      (void)runtime_.Remove(id);
      ReleaseImage(id);
    }));
  }
  for (auto& f : stops) f.wait();
  for (const std::string& uid : uids) {
    TearDownSandbox(uid);
    (void)volumes_.Cleanup(uid);
    status_.Forget(uid);
  }
}

absl::StatusOr<controllers::Result> PodSync::Terminate(const json::Value& pod, PodMemo& memo) {
  std::string uid = pod.GetString({"metadata", "uid"});
  int64_t grace = IntOr(pod.Get({"metadata", "deletionGracePeriodSeconds"}),
                        IntOr(pod.Get({"spec", "terminationGracePeriodSeconds"}), 30));
  // The main (and plain init) containers stop first, together; then the native sidecars, in
  // reverse order, as Kubernetes stops them.
  std::vector<const json::Value*> first, sidecars;
  for (const json::Value& c : Containers(pod, "initContainers")) (IsSidecar(c) ? sidecars : first).push_back(&c);
  for (const json::Value& c : Containers(pod, "containers")) first.push_back(&c);
  std::reverse(sidecars.begin(), sidecars.end());
  auto stop_all = [&](const std::vector<const json::Value*>& group) -> absl::Status {
    std::vector<std::future<absl::Status>> stops;
    for (const json::Value* cp : group) {
      const json::Value& c = *cp;
      std::string id = ContainerId(uid, c.GetString({"name"}));
      bool running = false;
      if (auto st = runtime_.Inspect(id); st.ok() && st->state == State::kRunning) {
        running = true;
        Event(pod, "Normal", "Killing", StrCat("Stopping container ", c.GetString({"name"})));
      }
      const json::Value* pre_stop = c.Get({"lifecycle", "preStop"});
      if (!running || pre_stop == nullptr || !pre_stop->is_object()) {
        stops.push_back(std::async(std::launch::async, [this, id, grace] { return runtime_.Stop(id, absl::Seconds(grace)); }));
        continue;
      }
      // preStop first, within the grace period; the stop gets what is left (at least 2 s, as
      // the kubelet's minimum).
      stops.push_back(std::async(std::launch::async, [this, id, grace, handler = *pre_stop, container = c, &pod] {
        absl::Time started = clock_.Now();
        absl::Status hooked = RunLifecycleHandler(handler, container, runtime_, id, PodAddress(pod.GetString({"metadata", "uid"})), clock_,
                                                  absl::Seconds(grace));
        if (!hooked.ok()) {
          Event(pod, "Warning", "FailedPreStopHook",
                HookFailureMessage(handler, container.GetString({"name"}), PodFormat(pod), hooked));
        }
        absl::Duration left = std::max(absl::Seconds(grace) - (clock_.Now() - started), absl::Seconds(2));
        return runtime_.Stop(id, left);
      }));
    }
    absl::Status result = absl::OkStatus();
    for (auto& f : stops) {
      if (absl::Status s = f.get(); !s.ok()) result = s;
    }
    return result;
  };
  if (absl::Status s = stop_all(first); !s.ok()) return s;
  for (const json::Value* sidecar : sidecars) {
    if (absl::Status s = stop_all({sidecar}); !s.ok()) return s;
  }
  // The processes are gone. What they used goes before the object does, as the kubelet deletes
  // a pod only once its resources are reclaimed: whoever waited for the deletion (kubectl delete
  // --wait, a StatefulSet's next pod) finds no container, sandbox, volume or pod directory left.
  // Each step is idempotent, so a failed delete below is retried through all of them.
  for (const char* field : {"initContainers", "containers"}) {
    for (const json::Value& c : Containers(pod, field)) {
      std::string id = ContainerId(uid, c.GetString({"name"}));
      (void)runtime_.Remove(id);
      ReleaseImage(id);
    }
  }
  TearDownSandbox(uid);
  memo.sandbox.reset();
  (void)volumes_.Cleanup(uid);
  // Now the object may go (grace 0, for this very pod only).
  if (api_ != nullptr) {
    json::Value opts = json::Value::MakeObject();
    opts.Set("gracePeriodSeconds", 0);
    opts.Ensure({"preconditions"}).Set("uid", uid);
    absl::Status s = api_->Delete(client::resources::kPods, pod.GetString({"metadata", "namespace"}),
                                  pod.GetString({"metadata", "name"}), opts);
    // NotFound: already gone. A failed uid precondition (409) means the name now belongs to a
    // new pod: this one is gone too.
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound && s.code() != absl::StatusCode::kFailedPrecondition &&
        s.code() != absl::StatusCode::kAborted) {
      return s;
    }
  }
  status_.Forget(uid);
  return controllers::Result{};
}

void PodSync::CleanUpOrphans() {
  auto all = runtime_.List();
  if (!all.ok()) return;
  std::set<std::string> keys;
  for (const ContainerStatus& s : *all) keys.insert(s.pod_key);
  if (options_.network != nullptr) {
    // Network namespaces and addresses of pods that no longer exist (the agent was down when
    // they went, or crashed while setting one up).
    std::set<std::string> live;
    for (const controllers::ObjectPtr& pod : pods_.List()) {
      if (options_.node_names.count(pod->GetString({"spec", "nodeName"}))) live.insert(pod->GetString({"metadata", "uid"}));
    }
    for (const ContainerStatus& s : *all) live.insert(s.pod_uid);
    options_.network->CollectGarbage(live);
  }
  for (const std::string& key : keys) controller_.Enqueue(key);  // Reconcile removes what the API no longer has
}

void PodSync::StopAll(absl::Duration default_grace) {
  auto all = runtime_.List();
  if (!all.ok()) return;
  std::vector<std::future<void>> stops;
  for (const ContainerStatus& s : *all) {
    if (s.state != State::kRunning) continue;
    // Each container gets its own pod's grace period, all at once: the stop takes as long as
    // the longest grace period, not their sum.
    absl::Duration grace = default_grace;
    if (controllers::ObjectPtr pod = pods_.Get(s.pod_key)) {
      grace = absl::Seconds(IntOr(pod->Get({"spec", "terminationGracePeriodSeconds"}), absl::ToInt64Seconds(default_grace)));
    }
    stops.push_back(std::async(std::launch::async, [this, id = s.id, grace] { (void)runtime_.Stop(id, grace); }));
  }
  for (auto& f : stops) f.wait();
}

}  // namespace berth::agent
