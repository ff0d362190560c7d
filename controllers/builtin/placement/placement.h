#pragma once
// File: controllers/builtin/placement/placement.h
// Where a pod may run: the scheduler's filters and scores as plain functions over a pod and a
// node, shared by the scheduler and the DaemonSet controller (which places its pods itself, as
// Kubernetes' does with the same predicates). Pure: no API, no cache, no clock.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/json/value.h"

namespace berth::controllers::builtin {

// What a pod asks of a node: the effective requests (sum of containers, or the largest init
// container if larger, plus spec.overhead) as Kubernetes' NodeResourcesFit computes them.
struct PodRequests {
  int64_t cpu_milli = 0;
  int64_t memory_milli = 0;
  // Every other named resource (ephemeral-storage, hugepages-*, nvidia.com/gpu, ...), milli.
  std::map<std::string, int64_t> scalar;
  std::set<int64_t> host_ports;
};
PodRequests RequestsOf(const json::Value& pod);

// A node's allocatable resources (status.allocatable, else status.capacity), milli-units.
struct NodeAllocatable {
  int64_t cpu = 0, memory = 0, pods = 0;
  std::map<std::string, int64_t> scalar;
  static NodeAllocatable Of(const json::Value& node);
};

// What the pods counted on a node request of it.
struct NodeUsage {
  int64_t cpu = 0, memory = 0, pods = 0;  // milli
  std::map<std::string, int64_t> scalar;
  std::multiset<int64_t> ports;
  void Add(const PodRequests& r);
  void Remove(const PodRequests& r);
  bool operator==(const NodeUsage&) const = default;
};

// Host ports, then every resource the pod requests, with Kubernetes' reasons ("node(s) didn't
// have free ports for the requested pod ports", "Too many pods", "Insufficient <name>"); one
// entry per resource that does not fit, as NodeResourcesFit reports them. Empty when it fits.
std::vector<std::string> ResourceFitReasons(const PodRequests& req, const NodeAllocatable& node,
                                            const NodeUsage& used);

// The first taint with one of `effects` the pod does not tolerate, as TaintToleration reports
// it, or "".
std::string UntoleratedTaint(const json::Value& pod, const json::Value& node,
                             const std::vector<std::string>& effects = {"NoSchedule", "NoExecute"});
// Whether the node satisfies the pod's nodeSelector and required node affinity.
bool MatchesNodeSelectorAndAffinity(const json::Value& pod, const json::Value& node);
// Why the pod may not go on the node for reasons other than resources and readiness
// (taints with `effects`, nodeSelector, required node affinity), or "". DaemonSets use it too.
std::string PlacementError(const json::Value& pod, const json::Value& node,
                           const std::vector<std::string>& effects = {"NoSchedule", "NoExecute"});
// Why a node does not fit (readiness, unschedulable, placement, then resources), empty when
// it does.
std::vector<std::string> FitReasons(const json::Value& pod, const PodRequests& req, const json::Value& node,
                                    const NodeUsage& used);
// How many of the node's PreferNoSchedule taints the pod does not tolerate: TaintToleration's
// raw score (fewer is better; the scheduler normalizes it over the feasible nodes).
int64_t IntolerablePreferNoScheduleTaints(const json::Value& pod, const json::Value& node);
// The sum of the weights of the pod's preferred node affinity terms the node matches.
double PreferredNodeAffinity(const json::Value& pod, const json::Value& node);
// How many feasible nodes to find before choosing, as Kubernetes' percentageOfNodesToScore
// (adaptive: 50% minus 1% per 125 nodes, at least 5%, at least 100 nodes).
size_t NodesToFind(size_t total);

// A node's allocatable `resource` ("cpu", "memory", "pods", ...) in milli-units, 0 when absent.
int64_t Allocatable(const json::Value& node, const char* resource);

// Kubernetes' FitError message over per-node reasons: "0/3 nodes are available: 1 Insufficient
// cpu, 2 node(s) were unschedulable." (counts per reason, sorted as strings, as upstream does).
std::string NoNodesAvailableMessage(size_t nodes, const std::map<std::string, int>& reasons);

}  // namespace berth::controllers::builtin
