#pragma once
// File: apiserver/registry/admission/priority.h
// Kubernetes' Priority admission plugin: a new pod's priorityClassName (or the global default
// class) resolves to spec.priority and spec.preemptionPolicy; at most one PriorityClass is the
// global default; the two system classes exist from start-up and cannot be deleted.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::registry {

inline constexpr int64_t kHighestUserDefinablePriority = 1000000000;
inline constexpr int64_t kSystemClusterCritical = 2000000000;
inline constexpr int64_t kSystemNodeCritical = 2000001000;

std::shared_ptr<const AdmissionPlugin> PriorityAdmission();

// Creates system-cluster-critical and system-node-critical when missing (start-up).
absl::Status EnsureSystemPriorityClasses(Registry& registry);

// Why a class named "system-..." is not one of the system classes ("" when it is one, with
// their value and globalDefault false): that prefix is reserved for them.
std::string SystemPriorityClassError(const std::string& name, int64_t value, bool global_default);

}  // namespace berth::apiserver::registry
