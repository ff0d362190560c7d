#pragma once
// File: controllers/builtin/placement/topology_spread.h
// Kubernetes' PodTopologySpread plugin: `whenUnsatisfiable: DoNotSchedule` constraints filter
// (skew = matching pods in the node's domain + self - the least loaded eligible domain, with
// minDomains, nodeAffinityPolicy, nodeTaintsPolicy and matchLabelKeys), `ScheduleAnyway`
// constraints score (fewer matching pods in the domain is better). Pure, over a ClusterView.
// Berth applies no cluster-level default constraints: a pod without any is not spread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "controllers/builtin/placement/cluster_view.h"
#include "core/json/value.h"

namespace berth::controllers::builtin {

class TopologySpread {
 public:
  // PreFilter and PreScore: matching pods per domain over the eligible nodes.
  static absl::StatusOr<TopologySpread> Compute(const json::Value& pod, const ClusterView& cluster);
  static bool HasConstraints(const json::Value& pod);

  bool filters() const { return !hard_.empty(); }
  bool scores() const { return !soft_.empty(); }
  // "" when every DoNotSchedule constraint allows the node, else upstream's reason.
  std::string Filter(const json::Value& node) const;
  // Raw score of a feasible node; nullopt when it lacks a ScheduleAnyway constraint's
  // topology key (upstream ignores it: 0 after normalizing). See NormalizeSpreadScores.
  std::optional<int64_t> Score(const json::Value& node) const;

  static constexpr const char* kConstraintsNotMatch = "node(s) didn't match pod topology spread constraints";
  static constexpr const char* kMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)";

 private:
  struct Constraint {
    int64_t max_skew = 1;
    std::string topology_key;
    std::optional<selector::LabelSelector> selector;  // nullopt: matches no pod
    int64_t min_domains = 1;
    bool honor_node_affinity = true;   // nodeAffinityPolicy: Honor (default)
    bool honor_node_taints = false;    // nodeTaintsPolicy: Ignore (default)
    int64_t self_match = 0;            // 1 when the incoming pod matches its own selector
    absl::flat_hash_map<std::string, int64_t> counts;  // domain -> matching pods
    int64_t min_count = 0;             // over the eligible domains
    double weight = 1;                 // scoring: log(domains + 2)
  };
  // Counts matching pods per domain over nodes that carry every constraint's key in `list` and
  // pass its inclusion policies.
  static void Count(const json::Value& pod, const ClusterView& cluster, std::vector<Constraint>& list);

  std::vector<Constraint> hard_, soft_;
};

// Upstream's NormalizeScore: ignored nodes 0; else 100 * (max + min - s) / max, 100 when max is 0.
std::vector<int64_t> NormalizeSpreadScores(const std::vector<std::optional<int64_t>>& scores);

}  // namespace berth::controllers::builtin
