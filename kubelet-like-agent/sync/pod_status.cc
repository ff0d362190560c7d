#include "kubelet-like-agent/sync/pod_status.h"

#include "core/object/conditions.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/sync/pod_decisions.h"

namespace berth::agent {

using runtime::State;

json::Value PodCondition(const json::Value& pod, const std::string& type, bool ok, const std::string& reason,
                      const std::string& now) {
  std::string status = ok ? "True" : "False";
  json::Value c = Obj({{"type", type}, {"status", status}, {"lastProbeTime", nullptr},
                       {"lastTransitionTime", object::TransitionTime(pod, type, status, now)}});
  if (!ok && !reason.empty()) c.Set("reason", reason);
  return c;
}

json::Value TerminatedJson(const runtime::ContainerStatus& s, const std::string& id, const std::string& message) {
  json::Value t = Obj({{"exitCode", s.exit_code}, {"reason", s.reason},
                       {"startedAt", FormatRfc3339(s.started_at)},
                       {"finishedAt", FormatRfc3339(s.finished_at == absl::InfinitePast() ? s.started_at : s.finished_at)},
                       {"containerID", "berth://" + id}});
  if (s.signal != 0) t.Set("signal", s.signal);
  if (!s.message.empty()) t.Set("message", s.message);
  else if (!message.empty()) t.Set("message", message);
  return t;
}

json::Value ContainerStatusJson(const json::Value& container, const std::string& id,
                                const absl::StatusOr<runtime::ContainerStatus>& st, const ContainerMemo& memo,
                                bool* running, bool* ready, bool* terminated, int* exit_code) {
  json::Value out = Obj({{"name", container.GetString({"name"})}, {"image", container.GetString({"image"})},
                         {"imageID", ""}, {"ready", false}, {"started", false}, {"restartCount", 0}});
  *running = *ready = *terminated = false;
  *exit_code = 0;
  if (!memo.last_termination.is_null()) out.Set("lastState", Obj({{"terminated", memo.last_termination}}));
  else out.Set("lastState", json::Value::MakeObject());
  if (!st.ok() && !memo.lost.is_null() && memo.waiting_reason.empty()) {
    *terminated = true;
    *exit_code = static_cast<int>(IntOr(memo.lost.Find("exitCode"), 0));
    out.Set("restartCount", memo.lost_restarts);
    out.Set("state", Obj({{"terminated", memo.lost}}));
    return out;
  }
  if (!st.ok()) {
    out.Set("state", Obj({{"waiting", Obj({{"reason", memo.waiting_reason.empty() ? "ContainerCreating" : memo.waiting_reason},
                                           {"message", memo.waiting_message}})}}));
    return out;
  }
  out.Set("containerID", "berth://" + id);
  out.Set("imageID", memo.image_id);
  out.Set("restartCount", std::max(0, st->runs - 1));
  if (st->state == State::kRunning) {
    *running = true;
    // Until the sync loop has set this run's probes up, a container with a startup or
    // readiness probe is neither started nor ready: it must pass them first.
    const bool probes_known = memo.probed_pid == st->pid;
    bool started = probes_known ? !memo.startup.configured() || memo.startup.ok() : !container.Find("startupProbe");
    *ready = started && (probes_known ? !memo.readiness.configured() || memo.readiness.ok() : !container.Find("readinessProbe"));
    out.Set("started", started);
    out.Set("ready", *ready);
    out.Set("state", Obj({{"running", Obj({{"startedAt", FormatRfc3339(st->started_at)}})}}));
  } else if (!memo.waiting_reason.empty()) {
    out.Set("state", Obj({{"waiting", Obj({{"reason", memo.waiting_reason}, {"message", memo.waiting_message}})}}));
    *terminated = false;
  } else {
    *terminated = true;
    *exit_code = st->exit_code;
    out.Set("state", Obj({{"terminated", TerminatedJson(*st, id, memo.message_run == st->runs ? memo.termination_message : "")}}));
  }
  return out;
}

}  // namespace berth::agent
