#pragma once
// File: controllers/builtin/placement/placement.h
// Where a pod may run: the scheduler's filters and scores as plain functions over a pod and a
// node, shared by the scheduler and the DaemonSet controller (which places its pods itself, as
// Kubernetes' does with the same predicates). Pure: no API, no cache, no clock.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/json/value.h"

namespace berth::controllers::builtin {

struct PodRequests {
  int64_t cpu_milli = 0;
  int64_t memory_milli = 0;
  std::set<int64_t> host_ports;
};
PodRequests RequestsOf(const json::Value& pod);

// Why the pod may not go on the node for reasons other than resources and readiness
// (taints with `effects`, nodeSelector, required node affinity), or "". DaemonSets use it too.
std::string PlacementError(const json::Value& pod, const json::Value& node,
                           const std::vector<std::string>& effects = {"NoSchedule", "NoExecute"});
// Why a node does not fit, or "" when it does (exposed for unit tests).
std::string FitError(const json::Value& pod, const PodRequests& req, const json::Value& node,
                     int64_t used_cpu, int64_t used_memory, int64_t used_pods,
                     const std::multiset<int64_t>& used_ports);
double Score(const json::Value& pod, const PodRequests& req, const json::Value& node, int64_t used_cpu,
             int64_t used_memory);
// How many feasible nodes to find before choosing, as Kubernetes' percentageOfNodesToScore
// (adaptive: 50% minus 1% per 125 nodes, at least 5%, at least 100 nodes).
size_t NodesToFind(size_t total);

// A node's allocatable `resource` ("cpu", "memory", "pods") in milli-units, 0 when absent.
int64_t Allocatable(const json::Value& node, const char* resource);

}  // namespace berth::controllers::builtin
