#pragma once
// File: kubelet-like-agent/sync/security_context.h
// A container's securityContext (over the pod's) turned into what the runtime applies:
// containerd's default capability set with `capabilities.add`/`drop` ("ALL" included), every
// capability when privileged; no_new_privs when allowPrivilegeEscalation is false; seccomp
// RuntimeDefault when the container or pod asks, or when the node makes it the default
// (`--seccomp-default`, the kubelet's SeccompDefault) and nothing says Unconfined;
// supplementalGroups and fsGroup as the process's groups.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::agent {

struct ContainerSecurity {
  bool privileged = false;
  std::vector<int> capabilities;  // kept, by number (sorted)
  bool no_new_privs = false;
  bool seccomp_runtime_default = false;
  std::vector<uint32_t> supplemental_groups;
};

// kInvalidArgument naming the field for what cannot be applied (an unknown capability, a
// Localhost seccomp profile).
absl::StatusOr<ContainerSecurity> ResolveSecurity(const json::Value& pod, const json::Value& container, bool seccomp_default);

// containerd's default capability set (its and runc's defaults), by number.
const std::vector<int>& DefaultCapabilities();

}  // namespace berth::agent
