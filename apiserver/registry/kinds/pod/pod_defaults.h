#pragma once
// File: apiserver/registry/kinds/pod/pod_defaults.h
// Pod spec defaulting and validation, shared by Pod and every kind with a pod template.

#include <string>
#include <vector>

#include "core/api/errors.h"
#include "core/json/value.h"

namespace berth::apiserver::registry::kinds {

// SetDefaults_PodSpec and SetDefaults_Container, for the fields Berth acts on.
void DefaultPodSpec(json::Value& spec);
// SetDefaults_Pod: a resource with a limit and no request requests its limit (pods only, not
// templates, as in Kubernetes).
void DefaultPodRequests(json::Value& spec);
// Container names unique DNS labels; requests within limits, extended resources whole and
// requested exactly at their limit; restartPolicy legal for the context.
std::vector<api::Cause> ValidatePodSpec(const json::Value& spec, const std::string& path);
// Pod QoS class from the containers' requests and limits.
std::string QosClass(const json::Value& spec);
// Checks that a workload's selector selects its own template (apps/v1 rule).
std::vector<api::Cause> ValidateSelectorMatchesTemplate(const json::Value& object);

}  // namespace berth::apiserver::registry::kinds
