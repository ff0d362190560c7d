#pragma once
// File: core/resource/quota.h
// Kubernetes' ResourceQuota semantics for pods (the pod evaluator): which quotas a pod counts
// against (scopes and scopeSelector) and what it uses of each quota resource name (pods,
// count/pods, cpu / requests.cpu, limits.cpu, memory, requests.<extended>, ...). Shared by quota
// admission in the apiserver and the quota controller.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/json/value.h"
#include "core/resource/pod_resources.h"

namespace berth::resource {

// Whether `pod` counts against `quota` (its spec.scopes and spec.scopeSelector).
bool QuotaMatchesPod(const json::Value& quota, const json::Value& pod);

// What a pod that is not finished uses, under every quota name Kubernetes knows for pods.
ResourceList PodQuotaUsage(const json::Value& pod);

// Quota names a pod must state explicitly when a quota limits them: "requests.cpu" for a
// container without a cpu request, and so on (Kubernetes refuses such pods). Empty when none.
std::vector<std::string> MissingPodQuotaFields(const json::Value& quota, const json::Value& pod);

// The quota's spec.hard as milli-units, with the text of each value (for messages).
ResourceList QuotaHard(const json::Value& quota, std::map<std::string, std::string>* text = nullptr);

}  // namespace berth::resource
