// File: kubelet-like-agent/sync/pod_sync.cc
// The PodSync's reconcile: one pod's containers brought to what its spec asks (init containers
// in order, sidecars, restarts with back-off, probes), and its status reported. Starting a
// container is in container_start.cc, the sandbox in pod_sandbox.cc, the ends in
// pod_termination.cc.
#include "kubelet-like-agent/sync/pod_sync.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/image/reference.h"
#include "core/resource/quantity.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/sync/image_process.h"
#include "kubelet-like-agent/sync/lifecycle_hooks.h"
#include "kubelet-like-agent/sync/pod_status.h"
#include "kubelet-like-agent/sync/security_context.h"
#include "kubelet-like-agent/sync/termination_message.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;
using runtime::ContainerStatus;
using runtime::State;

std::string Now(const Clock& clock) { return FormatRfc3339(clock.Now()); }

}  // namespace

PodSync::PodSync(client::ApiClient* api, controllers::Informer& pods, runtime::Runtime& runtime, VolumeManager& volumes,
                 StatusManager& status, PodSyncOptions options, const Clock& clock)
    : api_(api), pods_(pods), runtime_(runtime), volumes_(volumes), status_(status), options_(std::move(options)),
      clock_(clock), controller_("agent-pod-sync", *this, clock, options_.workers) {
  auto enqueue = [this](const controllers::ObjectPtr& o) {
    if (options_.node_names.count(o->GetString({"spec", "nodeName"}))) controller_.Enqueue(controllers::Informer::KeyOf(*o));
  };
  auto update = [enqueue](const controllers::ObjectPtr& before, const controllers::ObjectPtr& after) {
    if (before == nullptr || NeedsSync(*before, *after)) enqueue(after);
  };
  pods_.AddHandlers({enqueue, update, enqueue});
  runtime_.SetExitCallback([this](const ContainerStatus& s) {
    if (!s.pod_key.empty()) controller_.Enqueue(s.pod_key);
  });
}

std::vector<absl::Time> PodSync::RunProbes(const json::Value& pod, const json::Value& c, const ContainerStatus& running,
                                           ContainerMemo& cm) {
  const ContainerStatus* st = &running;
  const std::string id = running.id;
  const std::string name = c.GetString({"name"});
  const std::string key = controllers::Informer::KeyOf(pod);
  const absl::Time now_time = clock_.Now();
  if (cm.probed_pid != st->pid) {
    cm.probed_pid = st->pid;
    // A probe without a handler Berth can run counts as absent: failing it would kill a
    // healthy container in a loop.
    auto runnable = [&](const char* probe) { return c.Find(probe) && HasRunnableHandler(*c.Find(probe)); };
    cm.startup = runnable("startupProbe") ? ProbeState(*c.Find("startupProbe"), st->started_at, false) : ProbeState();
    cm.liveness = runnable("livenessProbe") ? ProbeState(*c.Find("livenessProbe"), st->started_at, true) : ProbeState();
    cm.readiness = runnable("readinessProbe") ? ProbeState(*c.Find("readinessProbe"), st->started_at, false) : ProbeState();
  }
  bool started = !cm.startup.configured() || cm.startup.ok();
  bool kill = false;
  std::string why;
  if (!started && cm.startup.Due(now_time)) {
    bool ok = RunProbe(cm.startup.probe(), c, runtime_, id, PodAddress(pod.GetString({"metadata", "uid"})), clock_, &cm.startup.last_detail);
    if (!ok) Event(pod, "Warning", "Unhealthy", "Startup probe failed: " + cm.startup.last_detail);
    cm.startup.Record(ok, now_time);
    if (cm.startup.failed()) {
      kill = true;
      why = "Startup probe failed: " + cm.startup.last_detail;
    }
    started = cm.startup.ok();
  }
  if (started && cm.liveness.configured() && cm.liveness.Due(clock_.Now())) {
    bool ok = RunProbe(cm.liveness.probe(), c, runtime_, id, PodAddress(pod.GetString({"metadata", "uid"})), clock_, &cm.liveness.last_detail);
    if (!ok) Event(pod, "Warning", "Unhealthy", "Liveness probe failed: " + cm.liveness.last_detail);
    cm.liveness.Record(ok, clock_.Now());
    if (!cm.liveness.ok()) {
      kill = true;
      why = "Liveness probe failed: " + cm.liveness.last_detail;
    }
  }
  if (started && cm.readiness.configured() && cm.readiness.Due(clock_.Now())) {
    bool ok = RunProbe(cm.readiness.probe(), c, runtime_, id, PodAddress(pod.GetString({"metadata", "uid"})), clock_, &cm.readiness.last_detail);
    if (!ok) Event(pod, "Warning", "Unhealthy", "Readiness probe failed: " + cm.readiness.last_detail);
    cm.readiness.Record(ok, clock_.Now());
  }
  if (kill) {
    BERTH_LOG(Info, "agent.sync", "Killing a container that failed its liveness probe", "pod", key, "container",
              name, "detail", why);
    Event(pod, "Normal", "Killing", StrCat("Container ", name, " failed ",
                                           cm.startup.failed() ? "startup" : "liveness", " probe, will be restarted"));
    (void)runtime_.Stop(id, absl::Seconds(IntOr(pod.Get({"spec", "terminationGracePeriodSeconds"}), 30)));
  }
  std::vector<absl::Time> wakes;
  for (const ProbeState* p : {&cm.startup, &cm.liveness, &cm.readiness}) {
    if (p->configured()) wakes.push_back(p->next());
  }
  return wakes;
}


void PodSync::ReleaseImage(const std::string& container_id) {
  if (options_.images != nullptr) options_.images->store().Release(container_id);
}

void PodSync::Event(const json::Value& pod, const char* type, const char* reason, const std::string& message) {
  if (events_ != nullptr) events_->Record(pod, type, reason, message);
}

void PodSync::StartFailed(const json::Value& pod, ContainerMemo& memo, const char* reason) {
  // Retried every few seconds: tell each distinct cause once (the recorder would count repeats,
  // but each repeat is still a request).
  if (memo.waiting_message == memo.last_start_error) return;
  memo.last_start_error = memo.waiting_message;
  Event(pod, "Warning", reason, StrCat("Error: ", memo.waiting_message));
}

bool PodSync::RecoverLostRun(const json::Value& container, const std::string& restart_policy, const std::string& now,
                             ContainerMemo& memo) {
  if (memo.reported.is_null()) return memo.lost.is_null();  // decided on an earlier pass
  std::optional<LostRun> lost = FindLostRun(memo.reported, now);
  memo.reported = json::Value();  // accounted for once
  if (!lost) return true;         // nothing ran: start it
  memo.previous_runs = lost->runs;
  if (RestartAllowed(restart_policy, IntOr(lost->terminated.Find("exitCode"), 0))) {
    BERTH_LOG(Info, "agent.sync", "Restarting a container whose run was lost", "container", container.GetString({"name"}),
              "runs", lost->runs);
    memo.last_termination = lost->terminated;
    memo.lost = json::Value();
    return true;
  }
  memo.lost = lost->terminated;
  memo.lost_restarts = lost->runs - 1;
  return false;
}

void PodSync::ReportExit(const json::Value& pod, const json::Value& container, const ContainerStatus& s,
                         ContainerMemo& memo) {
  if (memo.exit_reported_run == s.runs) return;
  memo.exit_reported_run = s.runs;
  memo.termination_message = TerminationMessage(container, memo.message_file, s);
  memo.message_run = s.runs;
  std::string name = container.GetString({"name"});
  if (s.reason == "OOMKilled") {
    std::string limit = container.GetString({"resources", "limits", "memory"});
    Event(pod, "Warning", "OOMKilling",
          StrCat("Container ", name, " was killed by the kernel's OOM killer",
                 limit.empty() ? std::string() : StrCat(": it reached its memory limit of ", limit)));
  } else if (s.reason == "StartError") {
    Event(pod, "Warning", "Failed", StrCat("Error: ", s.message));
  }
}

absl::StatusOr<controllers::Result> PodSync::Reconcile(const controllers::Request& request, std::stop_token) {
  const std::string key = request.Key();
  controllers::ObjectPtr cached = pods_.Get(key);
  if (cached == nullptr || !options_.node_names.count(cached->GetString({"spec", "nodeName"}))) {
    RemovePodContainers(key, "");
    std::lock_guard<std::mutex> lock(mu_);
    memos_.erase(key);
    return controllers::Result{};
  }
  const json::Value& pod = *cached;
  const std::string uid = pod.GetString({"metadata", "uid"});
  PodMemo* memo_ptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    memo_ptr = &memos_[key];
  }
  PodMemo& memo = *memo_ptr;
  if (memo.uid != uid) {
    // A new pod under an old name: what the old one left goes first.
    RemovePodContainers(key, uid);
    memo = PodMemo{};
    memo.uid = uid;
    memo.start_time = pod.GetString({"status", "startTime"});
    for (const char* field : {"initContainerStatuses", "containerStatuses"}) {
      const json::Value* statuses = pod.Get({"status", field});
      if (statuses == nullptr || !statuses->is_array()) continue;
      for (const json::Value& cs : statuses->as_array()) {
        ContainerMemo& cm = memo.containers[cs.GetString({"name"})];
        if (const json::Value* last = cs.Get({"lastState", "terminated"})) cm.last_termination = *last;
        cm.reported = cs;
        if (const json::Value* ended = cs.Get({"state", "terminated"})) {
          cm.lost = *ended;  // shown only while the runtime has no record of the container
          cm.lost_restarts = static_cast<int>(IntOr(cs.Find("restartCount"), 0));
        }
      }
    }
  }
  if (pod.Get({"metadata", "deletionTimestamp"})) return Terminate(pod, memo);

  const std::string now = Now(clock_);
  const absl::Time now_time = clock_.Now();
  if (memo.start_time.empty()) memo.start_time = now;
  std::string restart_policy = pod.GetString({"spec", "restartPolicy"}, "Always");
  absl::Time next_wake = now_time + options_.resync;
  auto wake_at = [&](absl::Time t) {
    if (t > now_time) next_wake = std::min(next_wake, t);
  };

  // activeDeadlineSeconds: the pod fails once it has been active that long.
  if (const json::Value* deadline = pod.Get({"spec", "activeDeadlineSeconds"}); deadline && deadline->is_int()) {
    absl::Time started = ParseRfc3339(memo.start_time, now_time);
    absl::Time end = started + absl::Seconds(deadline->as_int());
    if (now_time >= end) memo.deadline_exceeded = true;
    else wake_at(end);
  }
  std::string terminal_phase = pod.GetString({"status", "phase"});
  bool terminal = memo.deadline_exceeded || terminal_phase == "Succeeded" || terminal_phase == "Failed";
  if (memo.deadline_exceeded) {
    for (const char* field : {"initContainers", "containers"}) {
      for (const json::Value& c : Containers(pod, field)) {
        (void)runtime_.Stop(ContainerId(uid, c.GetString({"name"})),
                            absl::Seconds(IntOr(pod.Get({"spec", "terminationGracePeriodSeconds"}), 30)));
      }
    }
  }

  std::map<std::string, std::string> volume_paths;
  std::string volume_error;
  if (!terminal) {
    auto prepared = volumes_.Prepare(pod);
    if (prepared.ok()) {
      volume_paths = *std::move(prepared);
      memo.volume_error.clear();
    } else {
      volume_error = std::string(prepared.status().message());
      if (volume_error != memo.volume_error) Event(pod, "Warning", "FailedMount", StrCat("MountVolume.SetUp failed: ", volume_error));
      memo.volume_error = volume_error;
    }
  }

  // What keeps containers from starting: volumes that failed, or the pod's network.
  std::string blocked_reason, blocked_message;
  if (!volume_error.empty()) {
    blocked_reason = "CreateContainerConfigError";
    blocked_message = volume_error;
  } else if (!terminal && !EnsureSandbox(pod, memo)) {
    blocked_reason = "ContainerCreating";
    blocked_message = memo.network_error;
    wake_at(now_time + absl::Seconds(2));
  }

  auto restart_allowed = [&](const ContainerStatus& s) { return RestartAllowed(restart_policy, s.exit_code); };
  // After a reboot-like loss, a lost run that the policy does not restart ends the pod: nothing
  // starts again, init containers included (they ran before the loss).
  bool hold = false;
  if (!terminal) {
    for (const json::Value& c : Containers(pod, "containers")) {
      if (runtime_.Inspect(ContainerId(uid, c.GetString({"name"}))).ok()) continue;
      if (!RecoverLostRun(c, restart_policy, now, memo.containers[c.GetString({"name"})])) hold = true;
    }
  }
  // Decides whether an ended container starts again now; sets CrashLoopBackOff otherwise.
  auto maybe_restart = [&](const json::Value& container, const ContainerStatus& s, ContainerMemo& cm, bool init) {
    int restarts = s.runs - 1 - cm.backoff_base_runs;
    if (s.finished_at - s.started_at >= options_.backoff_reset) {
      cm.backoff_base_runs = s.runs - 1;
      restarts = 0;
    }
    absl::Duration delay = CrashLoopDelay(restarts, options_.initial_backoff, options_.max_backoff);
    absl::Time at = s.finished_at + delay;
    if (now_time < at) {
      cm.waiting_reason = "CrashLoopBackOff";
      cm.waiting_message = StrCat("back-off ", absl::FormatDuration(delay), " restarting failed container=",
                                  container.GetString({"name"}), " pod=", pod.GetString({"metadata", "name"}), "_",
                                  pod.GetString({"metadata", "namespace"}), "(", uid, ")");
      Event(pod, "Warning", "BackOff", StrCat("Back-off restarting failed container ", container.GetString({"name"}),
                                               " in pod ", pod.GetString({"metadata", "name"}), "_",
                                               pod.GetString({"metadata", "namespace"}), "(", uid, ")"));
      wake_at(at);
      return;
    }
    cm.last_termination = TerminatedJson(s, s.id, cm.message_run == s.runs ? cm.termination_message : "");
    cm.probed_pid = 0;
    (void)StartContainer(pod, container, init, volume_paths, cm, memo.sandbox);
  };

  // Init containers, in order: each must succeed before the next starts. A native sidecar
  // (restartPolicy: Always) only has to be running: it keeps running beside the main
  // containers, is restarted whenever it exits, and stops after them.
  bool initialized = true;
  bool init_failed = false;
  bool sidecars_ready = true;
  json::Value init_statuses = json::Value::MakeArray();
  std::vector<std::string> sidecar_ids;
  for (const json::Value& c : Containers(pod, "initContainers")) {
    std::string name = c.GetString({"name"});
    ContainerMemo& cm = memo.containers[name];
    std::string id = ContainerId(uid, name);
    const bool sidecar = IsSidecar(c);
    if (sidecar) sidecar_ids.push_back(id);
    if (sidecar && terminal) {
      // The main containers are done: the pod's sidecars stop (the pod completes with them).
      if (auto st = runtime_.Inspect(id); st.ok() && st->state == State::kRunning) (void)runtime_.Stop(id, GracePeriod(pod));
    } else if (!terminal && (initialized || (sidecar && runtime_.Inspect(id).ok())) && !init_failed && !hold) {
      auto st = runtime_.Inspect(id);
      if (!blocked_reason.empty() && (!st.ok() || st->state != State::kRunning)) {
        cm.waiting_reason = blocked_reason;
        cm.waiting_message = blocked_message;
      } else if (!st.ok()) {
        (void)StartContainer(pod, c, true, volume_paths, cm, memo.sandbox);
      } else if (sidecar && st->state == State::kExited) {
        ReportExit(pod, c, *st, cm);
        maybe_restart(c, *st, cm, true);  // always, whatever the pod's restartPolicy
      } else if (sidecar && st->state == State::kRunning) {
        for (absl::Time t : RunProbes(pod, c, *st, cm)) wake_at(t);
      } else if (st->state == State::kExited && st->exit_code != 0) {
        ReportExit(pod, c, *st, cm);
        if (restart_policy == "Never") init_failed = true;
        else maybe_restart(c, *st, cm, true);
      }
      st = runtime_.Inspect(id);
      if (sidecar) {
        // The next init container waits for the sidecar to have started (its startup probe).
        bool started = st.ok() && st->state == State::kRunning && (!cm.startup.configured() || cm.startup.ok());
        if (!started) initialized = false;
      } else if (!st.ok() || st->state != State::kExited || st->exit_code != 0) {
        initialized = false;
      }
    } else if (!hold) {
      initialized = false;
    }
    bool running, ready, term;
    int code;
    auto st = runtime_.Inspect(id);
    json::Value cs = ContainerStatusJson(c, id, st, cm, &running, &ready, &term, &code);
    if (sidecar) sidecars_ready = sidecars_ready && ready;  // its readiness probe, if any
    init_statuses.as_array().push_back(std::move(cs));
  }

  json::Value statuses = json::Value::MakeArray();
  int n_running = 0, n_ready = 0, n_terminated = 0, n_failed = 0, n_waiting = 0;
  const auto& main_containers = Containers(pod, "containers");
  for (const json::Value& c : main_containers) {
    std::string name = c.GetString({"name"});
    ContainerMemo& cm = memo.containers[name];
    std::string id = ContainerId(uid, name);
    if (initialized && !terminal && !init_failed) {
      auto st = runtime_.Inspect(id);
      if (!blocked_reason.empty() && (!st.ok() || st->state != State::kRunning)) {
        cm.waiting_reason = blocked_reason;
        cm.waiting_message = blocked_message;
        wake_at(now_time + absl::Seconds(2));
      } else if (!st.ok()) {
        // Lost runs were accounted for above: what has no record now starts, unless the pod is held.
        if (!hold && !StartContainer(pod, c, false, volume_paths, cm, memo.sandbox).ok()) wake_at(now_time + absl::Seconds(2));
      } else if (st->state == State::kRunning) {
        if (st->spec_hash != SpecHash(c)) {
          // The container's spec changed (a new image): replace it, as the kubelet does.
          (void)runtime_.Stop(id, absl::Seconds(IntOr(pod.Get({"spec", "terminationGracePeriodSeconds"}), 30)));
        } else {
          for (absl::Time t : RunProbes(pod, c, *st, cm)) wake_at(t);
        }
      }
      st = runtime_.Inspect(id);
      if (st.ok() && st->state == State::kExited) {
        ReportExit(pod, c, *st, cm);
        if (restart_allowed(*st)) maybe_restart(c, *st, cm, false);
        else cm.waiting_reason.clear();
      }
    }
    bool running, ready, term;
    int code;
    statuses.as_array().push_back(ContainerStatusJson(c, id, runtime_.Inspect(id), cm, &running, &ready, &term, &code));
    n_running += running;
    n_ready += ready;
    n_terminated += term;
    n_failed += term && code != 0;
    n_waiting += !running && !term;
  }

  std::string reason, message;
  int n = static_cast<int>(main_containers.size());
  if (memo.deadline_exceeded) {
    reason = "DeadlineExceeded";
    message = "Pod was active on the node longer than the specified deadline";
  }
  std::string phase = PodPhase({.deadline_exceeded = memo.deadline_exceeded, .init_failed = init_failed,
                                .terminal = terminal, .terminal_phase = terminal_phase, .initialized = initialized,
                                .restart_policy = restart_policy, .containers = n, .running = n_running,
                                .waiting = n_waiting, .terminated = n_terminated, .failed = n_failed});
  bool containers_ready = n > 0 && n_ready == n && sidecars_ready;
  json::Value status = json::Value::MakeObject();
  status.Set("phase", phase);
  json::Value conditions = json::Value::MakeArray();
  conditions.as_array().push_back(PodCondition(pod, "PodReadyToStartContainers", true, "", now));
  conditions.as_array().push_back(PodCondition(pod, "Initialized", initialized || Containers(pod, "initContainers").empty(),
                                            "ContainersNotInitialized", now));
  conditions.as_array().push_back(PodCondition(pod, "Ready", containers_ready && phase == "Running", "ContainersNotReady", now));
  conditions.as_array().push_back(PodCondition(pod, "ContainersReady", containers_ready && phase == "Running", "ContainersNotReady", now));
  conditions.as_array().push_back(PodCondition(pod, "PodScheduled", true, "", now));
  status.Set("conditions", std::move(conditions));
  status.Set("hostIP", options_.node_address);
  status.Set("hostIPs", json::Value(json::Array{Obj({{"ip", options_.node_address}})}));
  // A pod on the pod network has its own address; until it has one, none is reported.
  std::string pod_ip = options_.node_address;
  if (options_.network != nullptr && !HostNetwork(pod)) {
    std::optional<network::PodSandbox> sandbox = memo.sandbox;
    if (!sandbox) sandbox = options_.network->Find(uid);  // kept from an earlier run of the agent
    pod_ip = sandbox ? sandbox->ip : "";
  }
  if (!pod_ip.empty()) {
    status.Set("podIP", pod_ip);
    status.Set("podIPs", json::Value(json::Array{Obj({{"ip", pod_ip}})}));
  }
  status.Set("startTime", memo.start_time);
  status.Set("reason", reason.empty() ? json::Value() : json::Value(reason));
  status.Set("message", message.empty() ? json::Value() : json::Value(message));
  if (init_statuses.size() > 0) status.Set("initContainerStatuses", std::move(init_statuses));
  status.Set("containerStatuses", std::move(statuses));
  status_.Set(pod.GetString({"metadata", "namespace"}), pod.GetString({"metadata", "name"}), uid, std::move(status));
  if (phase == "Succeeded" || phase == "Failed") return controllers::Result{};
  return controllers::Result{std::max(absl::Milliseconds(10), next_wake - clock_.Now())};
}

}  // namespace berth::agent
