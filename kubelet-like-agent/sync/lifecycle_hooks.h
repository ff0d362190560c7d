#pragma once
// File: kubelet-like-agent/sync/lifecycle_hooks.h
// A container's lifecycle handlers (postStart, preStop) as the kubelet runs them: exec inside
// the container (as its main process runs), httpGet against the pod, tcpSocket, or sleep.

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/json/value.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent {

// Runs `handler` ({exec|httpGet|tcpSocket|sleep}) within `timeout`; the failure says what
// the handler did ("command 'x' exited with 1", the HTTP status, ...).
absl::Status RunLifecycleHandler(const json::Value& handler, const json::Value& container, runtime::Runtime& runtime,
                                 const std::string& container_id, const std::string& pod_address, const Clock& clock,
                                 absl::Duration timeout);

// The kubelet's words for a failed hook, e.g. `Exec lifecycle hook ([/bin/sh -c exit 1]) for
// Container "c" in Pod "p_ns(uid)" failed - error: command exited with 1`.
std::string HookFailureMessage(const json::Value& handler, const std::string& container, const std::string& pod_format,
                               const absl::Status& error);

}  // namespace berth::agent
