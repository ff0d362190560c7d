#pragma once
// File: controllers/builtin/placement/inter_pod_affinity.h
// Kubernetes' InterPodAffinity plugin: required pod affinity and anti-affinity of the incoming
// pod, the required anti-affinity of the pods already placed, and the preferred terms of both
// as a score. Pure: the caller supplies the cluster (ClusterView) and parses each placed pod's
// terms once (PodAffinityTerms::Of), since they are read on every attempt.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "controllers/builtin/placement/cluster_view.h"
#include "core/json/value.h"
#include "core/selector/label_selector.h"

namespace berth::controllers::builtin {

// One PodAffinityTerm resolved against the pod that carries it.
struct AffinityTerm {
  std::optional<selector::LabelSelector> selector;  // nullopt: no labelSelector, matches no pod
  std::set<std::string> namespaces;                  // the owner's own when neither field is set
  std::optional<selector::LabelSelector> namespace_selector;  // nullopt: none; empty: all
  std::string topology_key;
  int64_t weight = 1;  // preferred terms only
  bool Matches(const json::Value& pod, const ClusterView& cluster) const;
};

// A pod's four term lists, parsed once.
struct PodAffinityTerms {
  std::vector<AffinityTerm> required_affinity, required_anti_affinity;
  std::vector<AffinityTerm> preferred_affinity, preferred_anti_affinity;
  bool empty() const;
  // kInvalidArgument on a malformed selector (the apiserver refuses those first).
  static absl::StatusOr<PodAffinityTerms> Of(const json::Value& pod);
};

class InterPodAffinity {
 public:
  // PreFilter and PreScore: counts per topology pair of the pods each rule matches.
  static absl::StatusOr<InterPodAffinity> Compute(const json::Value& pod, const ClusterView& cluster);

  // "" when the node passes, else upstream's reason, in upstream's order (affinity, then
  // anti-affinity, then existing pods' anti-affinity).
  std::string Filter(const json::Value& node) const;
  // Raw score (sum of matching weights in the node's domains); normalize with
  // NormalizeAffinityScores over the feasible nodes.
  int64_t Score(const json::Value& node) const;
  bool filters() const { return !own_.required_affinity.empty() || !own_.required_anti_affinity.empty() || !existing_anti_.empty(); }
  bool scores() const { return !score_.empty(); }

  static constexpr const char* kAffinityRulesNotMatch = "node(s) didn't match pod affinity rules";
  static constexpr const char* kAntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules";
  static constexpr const char* kExistingAntiAffinityNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules";

 private:
  // topologyKey -> value -> count (or weight sum).
  using PairCounts = absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>>;
  static int64_t CountAt(const PairCounts& counts, const json::Value& node, const std::string& key, bool& has_key);

  PodAffinityTerms own_;
  bool self_matches_affinity_ = false;  // the first of a group may go where its own terms would
  PairCounts affinity_, anti_, existing_anti_, score_;
};

// Upstream's NormalizeScore: 100 * (s - min) / (max - min) over the feasible nodes, all 0 when
// they are equal.
void NormalizeAffinityScores(std::vector<int64_t>& scores);

}  // namespace berth::controllers::builtin
