#pragma once
// File: controllers/builtin/scheduler/score_plugins.h
// Score plugins: how much the scheduler likes a feasible node for a pod, 0..100, before each
// profile's weight. The built-ins mirror Kubernetes' (NodeResourcesFit with the LeastAllocated,
// MostAllocated and RequestedToCapacityRatio strategies, NodeResourcesBalancedAllocation,
// NodeAffinity); a user adds one by implementing ScorePlugin and registering a factory under a
// name that scheduler configuration files can then enable (the Mesos allocator-module idea).
// InterPodAffinity, PodTopologySpread and TaintToleration are scored by the scheduler itself
// (they normalize over all feasible nodes); a profile sets only their weights. NodeAffinity is a
// plugin whose raw figures the scheduler scales over the feasible nodes (Normalized).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "controllers/builtin/placement/placement.h"
#include "core/json/value.h"

namespace berth::controllers::builtin {

struct ScoreInput {
  const json::Value& pod;
  const PodRequests& requests;
  const json::Value& node;
  const NodeAllocatable& allocatable;
  const NodeUsage& used;  // without this pod
};

class ScorePlugin {
 public:
  virtual ~ScorePlugin() = default;
  virtual std::string_view name() const = 0;
  // 0..100; higher is better.
  virtual double Score(const ScoreInput& in) const = 0;
  // Whether Score reads only requests, allocatable and usage (never the JSON objects): the
  // scheduler's fast path for plain pods on plain nodes relies on it.
  virtual bool ResourcesOnly() const { return false; }
  // Whether Score is a raw figure that the scheduler scales over the feasible nodes (the best
  // gets 100, as upstream's DefaultNormalizeScore), so the choice waits for the whole scan.
  // Such a plugin says with ScoresPod which pods it can tell nodes apart for; for the others
  // it is skipped (every node would score alike).
  virtual bool Normalized() const { return false; }
  virtual bool ScoresPod(const json::Value& /*pod*/) const { return true; }
};

// Builds a plugin from its pluginConfig args (null when none). kInvalidArgument naming the bad
// field (relative to args).
using ScorePluginFactory = std::function<absl::StatusOr<std::unique_ptr<ScorePlugin>>(const json::Value* args)>;

// Registers a plugin name; false if the name is taken. Call before profiles are loaded.
bool RegisterScorePlugin(const std::string& name, ScorePluginFactory factory);
absl::StatusOr<std::unique_ptr<ScorePlugin>> MakeScorePlugin(const std::string& name, const json::Value* args);
bool KnownScorePlugin(const std::string& name);

}  // namespace berth::controllers::builtin
