#pragma once
// File: kubelet-like-agent/sync/termination_message.h
// What a container leaves behind for `kubectl describe`: the file it wrote at
// terminationMessagePath (a per-run host file the agent mounts there), at most 4096 bytes; with
// terminationMessagePolicy FallbackToLogsOnError, a failed run with an empty file reports the
// last 80 lines of its log instead (at most 2048 bytes), as the kubelet does.

#include <string>

#include "core/json/value.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent {

std::string TerminationMessage(const json::Value& container, const std::string& message_file,
                               const runtime::ContainerStatus& ended);

// The last `max_lines` lines of a CRI-format log, their content only, at most `max_bytes`.
std::string LogTail(const std::string& log_path, int max_lines, size_t max_bytes);

}  // namespace berth::agent
