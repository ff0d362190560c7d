#include "controllers/builtin/placement/topology_spread.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "controllers/builtin/placement/placement.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

namespace {

const json::Value& LabelsOf(const json::Value& object) {
  static const json::Value kNone = json::Value::MakeObject();
  const json::Value* labels = object.Get({"metadata", "labels"});
  return labels ? *labels : kNone;
}

}  // namespace

bool TopologySpread::HasConstraints(const json::Value& pod) {
  const json::Value* c = pod.Get({"spec", "topologySpreadConstraints"});
  return c && c->is_array() && c->size() > 0;
}

absl::StatusOr<TopologySpread> TopologySpread::Compute(const json::Value& pod, const ClusterView& cluster) {
  TopologySpread state;
  const json::Value* list = pod.Get({"spec", "topologySpreadConstraints"});
  if (list == nullptr || !list->is_array()) return state;
  for (size_t i = 0; i < list->as_array().size(); ++i) {
    const json::Value& c = list->as_array()[i];
    Constraint constraint;
    if (const json::Value* s = c.Find("maxSkew"); s && s->is_int()) constraint.max_skew = s->as_int();
    if (const json::Value* m = c.Find("minDomains"); m && m->is_int()) constraint.min_domains = m->as_int();
    constraint.topology_key = c.GetString({"topologyKey"});
    constraint.honor_node_affinity = c.GetString({"nodeAffinityPolicy"}, "Honor") == "Honor";
    constraint.honor_node_taints = c.GetString({"nodeTaintsPolicy"}, "Ignore") == "Honor";
    auto sel = PodSelectorOf(c.Find("labelSelector"), pod, c.Find("matchLabelKeys"));
    if (!sel.ok()) {
      return absl::InvalidArgumentError(StrCat("spec.topologySpreadConstraints[", i, "].labelSelector: ", sel.status().message()));
    }
    constraint.selector = std::move(*sel);
    constraint.self_match = constraint.selector && constraint.selector->Matches(LabelsOf(pod)) ? 1 : 0;
    (c.GetString({"whenUnsatisfiable"}) == "ScheduleAnyway" ? state.soft_ : state.hard_).push_back(std::move(constraint));
  }
  Count(pod, cluster, state.hard_);
  Count(pod, cluster, state.soft_);
  return state;
}

void TopologySpread::Count(const json::Value& pod, const ClusterView& cluster, std::vector<Constraint>& list) {
  if (list.empty()) return;
  // Which nodes each constraint counts: those with every key of the list that pass its policies.
  // Usually the policies exclude nothing (no node selector or affinity to honour, taints
  // ignored): then having the keys is enough, and no per-node set is built.
  bool keys_only = true;
  bool has_node_constraints = pod.Get({"spec", "nodeSelector"}) != nullptr || pod.Get({"spec", "affinity", "nodeAffinity"}) != nullptr;
  for (const Constraint& c : list) keys_only = keys_only && !(c.honor_node_affinity && has_node_constraints) && !c.honor_node_taints;
  auto has_keys = [&](const json::Value& node) {
    for (const Constraint& c : list) {
      if (LabelOf(node, c.topology_key) == nullptr) return false;
    }
    return true;
  };
  std::vector<absl::flat_hash_set<const json::Value*>> eligible(list.size());
  if (keys_only) {
    // Every domain of the first key, on nodes that have the others too.
    cluster.ForEachNodeLabelled(list.front().topology_key, [&](const json::Value& node, const std::string& value) {
      if (list.size() > 1 && !has_keys(node)) return;
      for (Constraint& c : list) c.counts.try_emplace(c.topology_key == list.front().topology_key ? value : *LabelOf(node, c.topology_key), 0);
    });
  } else {
    cluster.ForEachNode([&](const json::Value& node) {
      if (!has_keys(node)) return;
      for (size_t i = 0; i < list.size(); ++i) {
        Constraint& c = list[i];
        if (c.honor_node_affinity && !MatchesNodeSelectorAndAffinity(pod, node)) continue;
        if (c.honor_node_taints && !UntoleratedTaint(pod, node).empty()) continue;
        eligible[i].insert(&node);
        c.counts.try_emplace(*LabelOf(node, c.topology_key), 0);  // a domain with no pods yet
      }
    });
  }
  // Then the pods each selector may match in the pod's namespace, on those nodes.
  std::string ns = pod.GetString({"metadata", "namespace"});
  for (size_t i = 0; i < list.size(); ++i) {
    Constraint& c = list[i];
    if (!c.selector) continue;
    cluster.ForEachPodMaybeMatching(&ns, *c.selector, [&](const json::Value& other, const json::Value& node) {
      if (other.Get({"metadata", "deletionTimestamp"}) != nullptr) return;
      if (keys_only ? !has_keys(node) : !eligible[i].count(&node)) return;
      if (other.GetString({"metadata", "namespace"}) != ns || !c.selector->Matches(LabelsOf(other))) return;
      c.counts[*LabelOf(node, c.topology_key)]++;
    });
  }
  for (Constraint& c : list) {
    c.min_count = 0;
    bool first = true;
    for (const auto& [domain, count] : c.counts) {
      if (first || count < c.min_count) c.min_count = count;
      first = false;
    }
    // Fewer domains than minDomains: the missing ones count as empty.
    if (static_cast<int64_t>(c.counts.size()) < c.min_domains) c.min_count = 0;
    c.weight = std::log(static_cast<double>(c.counts.size()) + 2);
  }
}

std::string TopologySpread::Filter(const json::Value& node) const {
  for (const Constraint& c : hard_) {
    if (LabelOf(node, c.topology_key) == nullptr) return kMissingLabel;
  }
  for (const Constraint& c : hard_) {
    auto it = c.counts.find(*LabelOf(node, c.topology_key));
    int64_t matching = it == c.counts.end() ? 0 : it->second;
    if (matching + c.self_match - c.min_count > c.max_skew) return kConstraintsNotMatch;
  }
  return "";
}

std::optional<int64_t> TopologySpread::Score(const json::Value& node) const {
  double score = 0;
  for (const Constraint& c : soft_) {
    const std::string* domain = LabelOf(node, c.topology_key);
    if (domain == nullptr) return std::nullopt;
    auto it = c.counts.find(*domain);
    int64_t matching = it == c.counts.end() ? 0 : it->second;
    score += static_cast<double>(matching) * c.weight + static_cast<double>(c.max_skew - 1);
  }
  return static_cast<int64_t>(std::llround(score));
}

std::vector<int64_t> NormalizeSpreadScores(const std::vector<std::optional<int64_t>>& scores) {
  int64_t min = 0, max = 0;
  bool any = false;
  for (const auto& s : scores) {
    if (!s) continue;
    if (!any || *s < min) min = *s;
    if (!any || *s > max) max = *s;
    any = true;
  }
  std::vector<int64_t> out;
  out.reserve(scores.size());
  for (const auto& s : scores) {
    if (!s) {
      out.push_back(0);
    } else if (max == 0) {
      out.push_back(100);
    } else {
      out.push_back(100 * (max + min - *s) / max);
    }
  }
  return out;
}

}  // namespace berth::controllers::builtin
