#pragma once
// File: controllers/builtin/scheduler/preemption.h
// Kubernetes' DefaultPreemption as pure functions over the scheduler's cached view: which pods
// to evict on one node so a higher-priority pod fits (SelectVictimsOnNode), and which node's
// victims to take (pickOneNodeForPreemption's criteria). No API, no lock, no clock: the
// scheduler gathers the inputs under its lock and acts on the answer outside it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controllers/builtin/placement/placement.h"

namespace berth::controllers::builtin {

// A pod running (or assumed) on a node, as preemption weighs it.
struct RunningPod {
  std::string key;        // ns/name
  int64_t priority = 0;
  int64_t start_micros = 0;  // status.startTime, else creationTimestamp (older = more important)
  PodRequests requests;
  std::vector<size_t> budgets;  // the PodDisruptionBudgets that count it (indices, see below)
};

struct NodeForPreemption {
  std::string name;
  NodeAllocatable allocatable;
  NodeUsage usage;                 // everything counted on the node, victims included
  std::vector<RunningPod> pods;    // the pods behind `usage` that may be evicted (not terminating)
};

struct Victims {
  std::vector<RunningPod> pods;  // most important first
  int budget_violations = 0;
  std::vector<size_t> violated_budgets;  // budgets some victim's eviction would break
};

// The fewest pods of priority below `priority` whose removal lets `req` fit on the node:
// all lower-priority pods are removed, then reprieved one by one, most important first (those
// whose eviction would violate a budget before the others), while the pod still fits. nullopt
// when even removing all of them does not make room. `budget_allowed[i]` is budget i's
// disruptionsAllowed: going through the candidates most important first, each takes one from
// every budget that counts it, and violates once one is below zero (filterPodsWithPDBViolation).
std::optional<Victims> SelectVictimsOnNode(const PodRequests& req, int64_t priority, const NodeForPreemption& node,
                                           std::vector<int64_t> budget_allowed = {});

struct Candidate {
  std::string node;
  Victims victims;
};
// Index of the candidate to preempt on, by Kubernetes' order: fewest budget violations, lowest
// highest-victim priority, smallest sum of victim priorities, fewest victims, latest start of the
// highest-priority victims, then the first. `candidates` must not be empty.
size_t PickCandidate(const std::vector<Candidate>& candidates);

// Reasons preemption can do something about: the pod would fit if pods left the node.
bool ResolvableByPreemption(const std::string& reason);
// Inter-pod reasons upstream also treats as resolvable (anti-affinity of either side, topology
// spread skew): removing pods might help. Berth does not yet simulate that removal: such a node
// counts as "No preemption victims found" when it has no lower-priority pod, else as "not
// helpful".
bool ResolvableByRemovingMatchingPods(const std::string& reason);

// How many candidate nodes to find before choosing: max(10% of nodes, 100), at most all
// (upstream minCandidateNodesPercentage / minCandidateNodesAbsolute).
size_t CandidatesToFind(size_t nodes);

}  // namespace berth::controllers::builtin
