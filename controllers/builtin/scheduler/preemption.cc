#include "controllers/builtin/scheduler/preemption.h"

#include "controllers/builtin/placement/inter_pod_affinity.h"
#include "controllers/builtin/placement/topology_spread.h"

#include <algorithm>

namespace berth::controllers::builtin {
namespace {

// More important first: higher priority, then started earlier (Kubernetes' MoreImportantPod).
bool MoreImportant(const RunningPod& a, const RunningPod& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.start_micros < b.start_micros;
}

bool Fits(const PodRequests& req, const NodeForPreemption& node, const NodeUsage& usage) {
  return ResourceFitReasons(req, node.allocatable, usage).empty();
}

}  // namespace

bool ResolvableByPreemption(const std::string& reason) {
  return reason.rfind("Insufficient ", 0) == 0 || reason == "Too many pods" ||
         reason == "node(s) didn't have free ports for the requested pod ports";
}

bool ResolvableByRemovingMatchingPods(const std::string& reason) {
  return reason == InterPodAffinity::kAntiAffinityRulesNotMatch || reason == InterPodAffinity::kExistingAntiAffinityNotMatch ||
         reason == TopologySpread::kConstraintsNotMatch;
}

size_t CandidatesToFind(size_t nodes) { return std::min(nodes, std::max<size_t>(nodes / 10, 100)); }

std::optional<Victims> SelectVictimsOnNode(const PodRequests& req, int64_t priority, const NodeForPreemption& node,
                                           std::vector<int64_t> budget_allowed) {
  NodeUsage usage = node.usage;
  std::vector<RunningPod> lower;
  for (const RunningPod& p : node.pods) {
    if (p.priority < priority) {
      usage.Remove(p.requests);
      lower.push_back(p);
    }
  }
  if (lower.empty() || !Fits(req, node, usage)) return std::nullopt;
  std::sort(lower.begin(), lower.end(), MoreImportant);
  std::vector<bool> violates(lower.size(), false);
  std::vector<std::vector<size_t>> broken(lower.size());
  for (size_t i = 0; i < lower.size(); ++i) {
    for (size_t b : lower[i].budgets) {
      if (b < budget_allowed.size() && --budget_allowed[b] < 0) {
        violates[i] = true;
        broken[i].push_back(b);
      }
    }
  }
  Victims victims;
  // Reprieve budget-protected pods first, so that evicting them is the last resort.
  auto reprieve = [&](bool protected_by_budget) {
    for (size_t i = 0; i < lower.size(); ++i) {
      const RunningPod& p = lower[i];
      if (violates[i] != protected_by_budget) continue;
      usage.Add(p.requests);
      if (Fits(req, node, usage)) continue;  // it may stay
      usage.Remove(p.requests);
      victims.pods.push_back(p);
      if (protected_by_budget) {
        ++victims.budget_violations;
        victims.violated_budgets.insert(victims.violated_budgets.end(), broken[i].begin(), broken[i].end());
      }
    }
  };
  reprieve(true);
  reprieve(false);
  std::sort(victims.pods.begin(), victims.pods.end(), MoreImportant);
  return victims;
}

size_t PickCandidate(const std::vector<Candidate>& candidates) {
  auto highest = [](const Victims& v) { return v.pods.empty() ? INT64_MIN : v.pods.front().priority; };
  auto sum = [](const Victims& v) {
    int64_t s = 0;
    // Kubernetes adds MaxInt32+1 to each so that negative priorities still count as a cost.
    for (const RunningPod& p : v.pods) s += p.priority + (int64_t{1} << 31);
    return s;
  };
  // The latest start among the victims that share the highest priority.
  auto latest_start_of_highest = [&](const Victims& v) {
    int64_t latest = INT64_MIN;
    for (const RunningPod& p : v.pods) {
      if (p.priority == highest(v)) latest = std::max(latest, p.start_micros);
    }
    return latest;
  };
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i) {
    const Victims& a = candidates[i].victims;
    const Victims& b = candidates[best].victims;
    if (a.budget_violations != b.budget_violations) {
      if (a.budget_violations < b.budget_violations) best = i;
      continue;
    }
    if (highest(a) != highest(b)) {
      if (highest(a) < highest(b)) best = i;
      continue;
    }
    if (sum(a) != sum(b)) {
      if (sum(a) < sum(b)) best = i;
      continue;
    }
    if (a.pods.size() != b.pods.size()) {
      if (a.pods.size() < b.pods.size()) best = i;
      continue;
    }
    if (latest_start_of_highest(a) > latest_start_of_highest(b)) best = i;
  }
  return best;
}

}  // namespace berth::controllers::builtin
