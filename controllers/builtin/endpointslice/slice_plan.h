#pragma once
// File: controllers/builtin/endpointslice/slice_plan.h
// What the endpointslice controller decides, pure (Kubernetes' endpointslice reconciler):
// which pods of a Service are endpoints and with which conditions, grouped by the ports their
// named targetPorts resolve to, at most 100 per slice; and the fewest writes that turn the
// Service's existing slices into that, keeping each endpoint in the slice it is already in.

#include <string>
#include <vector>

#include "core/json/value.h"

namespace berth::controllers::builtin {

constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
constexpr char kManagedBy[] = "endpointslice-controller.k8s.io";
constexpr char kTriggerTimeAnnotation[] = "endpoints.kubernetes.io/last-change-trigger-time";
constexpr size_t kMaxEndpointsPerSlice = 100;

// True when the Service's selector picks the pod (same namespace; a Service without selector
// picks nothing: its slices are someone else's to write).
bool ServiceSelects(const json::Value& service, const json::Value& pod);

// One endpoint per pod that should be one (an address, not terminal), and the ports (the
// slice's `ports` array) its targetPorts resolve to.
struct DesiredEndpoint {
  json::Value endpoint;  // addresses, conditions, nodeName, targetRef, hostname
  json::Value ports;     // array of {name, protocol, port}
  std::string ports_key;
};
std::vector<DesiredEndpoint> DesiredEndpoints(const json::Value& service, const std::vector<const json::Value*>& pods);

struct SlicePlan {
  std::vector<json::Value> create;  // full objects (generateName)
  std::vector<json::Value> update;  // existing objects with new content (resourceVersion kept)
  std::vector<std::string> remove;  // names
};
// `existing`: the slices this controller manages for the Service. `trigger_time`: RFC 3339, for
// the last-change-trigger-time annotation of written slices ("" leaves it out).
SlicePlan PlanSlices(const json::Value& service, const std::vector<DesiredEndpoint>& desired,
                     const std::vector<const json::Value*>& existing, const std::string& trigger_time);

}  // namespace berth::controllers::builtin
