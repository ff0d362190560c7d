#pragma once
// File: controllers/builtin/scheduler/profile.h
// Scheduler profiles: one scheduler process serves several `spec.schedulerName`s, each with its
// own score plugins and weights, read from a KubeSchedulerConfiguration (v1) subset:
// profiles[].schedulerName, plugins.score.{enabled,disabled} and pluginConfig[].args for the
// score plugins. Every other field is refused with its path (never silently ignored). Filters are
// the same for every profile.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controllers/builtin/scheduler/score_plugins.h"
#include "core/json/value.h"

namespace berth::controllers::builtin {

struct SchedulerProfile {
  std::string scheduler_name = "default-scheduler";
  struct Weighted {
    std::shared_ptr<const ScorePlugin> plugin;
    int64_t weight = 1;
  };
  std::vector<Weighted> score;
  // The plugins the scheduler scores itself (normalized over the feasible nodes); 0: off.
  int64_t inter_pod_affinity_weight = 2;
  int64_t topology_spread_weight = 2;
  int64_t taint_toleration_weight = 3;

  // The weighted sum of the plugins that are not normalized.
  double Score(const ScoreInput& in) const;
  // The normalized plugins that score this pod (raw figures for NormalizedTotals), in order.
  std::vector<const Weighted*> NormalizedFor(const json::Value& pod) const;
};

// Scales each plugin's raw figures over the feasible nodes (`raw[node][plugin]`, plugins as
// NormalizedFor gave them): the best node gets 100, a node with 0 gets 0; returns the weighted
// sum per node.
std::vector<double> NormalizedTotals(const std::vector<const SchedulerProfile::Weighted*>& plugins,
                                     const std::vector<std::vector<double>>& raw);

// Kubernetes' default score plugins, as far as Berth has them: TaintToleration 3,
// NodeResourcesFit (LeastAllocated, cpu and memory) 1, NodeResourcesBalancedAllocation 1,
// NodeAffinity 2, InterPodAffinity 2, PodTopologySpread 2.
SchedulerProfile DefaultProfile(const std::string& scheduler_name = "default-scheduler");

// kInvalidArgument naming the offending field (e.g. "profiles[1].plugins.filter: not supported").
absl::StatusOr<std::vector<SchedulerProfile>> ParseSchedulerConfiguration(const json::Value& config);

}  // namespace berth::controllers::builtin
