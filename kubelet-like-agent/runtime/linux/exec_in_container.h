#pragma once
// File: kubelet-like-agent/runtime/linux/exec_in_container.h
// Runs a command inside a running container (exec probes): it joins the container's namespaces
// and cgroups, and is killed when `timeout` passes on `clock`.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent::runtime {

// The command's exit code (128 + signal when killed). kUnavailable when the namespaces of
// `init_pid` cannot be entered, kDeadlineExceeded past `timeout`. `procs` are the container's
// cgroup.procs files.
absl::StatusOr<int> ExecInContainer(int64_t init_pid, const std::vector<std::string>& procs,
                                    const std::vector<std::string>& argv, absl::Duration timeout, const Clock& clock);

// Starts an interactive command (kubectl exec) in the container whose init is `init_pid`: its
// namespaces and cgroups (`procs`), and the environment, user, groups, root and working
// directory of the container's main process. Returns once the command runs (or could not
// start: kNotFound for a command that is not there, with the reason).
absl::StatusOr<ExecProcess> StartInContainer(int64_t init_pid, const std::vector<std::string>& procs,
                                             const ExecRequest& request);

}  // namespace berth::agent::runtime
