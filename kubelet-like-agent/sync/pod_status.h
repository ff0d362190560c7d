#pragma once
// File: kubelet-like-agent/sync/pod_status.h
// What the agent reports: container statuses (running, waiting with the reason, terminated
// with exit code, reason and message) and pod conditions, computed from what the runtime says
// and what the sync loop remembers. Pure: the caller passes the runtime's answer.

#include <string>

#include "absl/status/statusor.h"
#include "core/json/value.h"
#include "kubelet-like-agent/runtime/runtime.h"
#include "kubelet-like-agent/sync/pod_memo.h"

namespace berth::agent {

// The terminated state of a run.
// The terminated state of a run; `message` (the container's termination message) unless the
// runtime has one of its own (a StartError's cause).
json::Value TerminatedJson(const runtime::ContainerStatus& s, const std::string& id, const std::string& message = "");

// One container's status; the flags say what it counts as for the pod's phase.
json::Value ContainerStatusJson(const json::Value& container, const std::string& id,
                                const absl::StatusOr<runtime::ContainerStatus>& st, const ContainerMemo& memo,
                                bool* running, bool* ready, bool* terminated, int* exit_code);

// A pod condition; lastTransitionTime kept from `pod` while the status holds.
json::Value PodCondition(const json::Value& pod, const std::string& type, bool ok, const std::string& reason,
                         const std::string& now);

}  // namespace berth::agent
