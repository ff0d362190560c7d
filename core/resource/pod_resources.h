#pragma once
// File: core/resource/pod_resources.h
// What a pod asks for, as Kubernetes computes it for scheduling and quota (PodRequests /
// PodLimits in component-helpers): per resource name, the larger of the app containers' sum and
// the largest init container, plus spec.overhead; a limit without a request requests the limit.
// Milli-units. Shared by the scheduler (controllers) and quota admission (apiserver).

#include <cstdint>
#include <map>
#include <string>

#include "core/json/value.h"

namespace berth::resource {

using ResourceList = std::map<std::string, int64_t>;  // name -> milli-units

ResourceList PodRequests(const json::Value& pod);
ResourceList PodLimits(const json::Value& pod);

// A quantity in milli-units written as Kubernetes would: "500m", "2", "3Gi" (binary suffixes
// when `like` uses them, e.g. a quota's hard value).
std::string FormatMilli(int64_t milli, const std::string& like = "");

}  // namespace berth::resource
