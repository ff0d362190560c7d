#include "controllers/builtin/placement/inter_pod_affinity.h"

#include <algorithm>

#include "core/strings/strings.h"

namespace berth::controllers::builtin {

namespace {

// Required affinity of pods already placed counts toward the incoming pod's score with this
// weight (upstream's hardPodAffinityWeight default).
constexpr int64_t kHardPodAffinityWeight = 1;

absl::StatusOr<std::vector<AffinityTerm>> ParseTerms(const json::Value& owner, const json::Value* list, bool weighted) {
  std::vector<AffinityTerm> terms;
  if (list == nullptr || !list->is_array()) return terms;
  std::string own_ns = owner.GetString({"metadata", "namespace"});
  for (size_t i = 0; i < list->as_array().size(); ++i) {
    const json::Value& entry = list->as_array()[i];
    const json::Value* term = weighted ? entry.Find("podAffinityTerm") : &entry;
    if (term == nullptr || !term->is_object()) continue;
    AffinityTerm t;
    if (weighted) {
      const json::Value* w = entry.Find("weight");
      t.weight = w && w->is_int() ? w->as_int() : 0;
    }
    t.topology_key = term->GetString({"topologyKey"});
    auto sel = PodSelectorOf(term->Find("labelSelector"), owner, term->Find("matchLabelKeys"), term->Find("mismatchLabelKeys"));
    if (!sel.ok()) return absl::InvalidArgumentError(StrCat("term ", i, ": labelSelector: ", sel.status().message()));
    t.selector = std::move(*sel);
    if (const json::Value* ns = term->Find("namespaces"); ns && ns->is_array()) {
      for (const json::Value& n : ns->as_array()) {
        if (n.is_string()) t.namespaces.insert(n.as_string());
      }
    }
    if (const json::Value* nss = term->Find("namespaceSelector"); nss && nss->is_object()) {
      auto parsed = selector::LabelSelector::FromObject(*nss);
      if (!parsed.ok()) return absl::InvalidArgumentError(StrCat("term ", i, ": namespaceSelector: ", parsed.status().message()));
      t.namespace_selector = std::move(*parsed);
    } else if (t.namespaces.empty()) {
      t.namespaces.insert(own_ns);
    }
    terms.push_back(std::move(t));
  }
  return terms;
}

// upstream podMatchesAllAffinityTerms: false when there are none.
bool MatchesAll(const std::vector<AffinityTerm>& terms, const json::Value& pod, const ClusterView& cluster) {
  if (terms.empty()) return false;
  for (const AffinityTerm& t : terms) {
    if (!t.Matches(pod, cluster)) return false;
  }
  return true;
}

}  // namespace

bool AffinityTerm::Matches(const json::Value& pod, const ClusterView& cluster) const {
  if (!selector) return false;
  std::string ns = pod.GetString({"metadata", "namespace"});
  bool in_namespace = namespaces.count(ns) > 0;
  if (!in_namespace && namespace_selector) {
    static const json::Value kNoLabels = json::Value::MakeObject();
    const json::Value* labels = cluster.NamespaceLabels(ns);
    in_namespace = namespace_selector->Matches(labels ? *labels : kNoLabels);
  }
  if (!in_namespace) return false;
  const json::Value* labels = pod.Get({"metadata", "labels"});
  static const json::Value kNoLabels = json::Value::MakeObject();
  return selector->Matches(labels ? *labels : kNoLabels);
}

bool PodAffinityTerms::empty() const {
  return required_affinity.empty() && required_anti_affinity.empty() && preferred_affinity.empty() &&
         preferred_anti_affinity.empty();
}

absl::StatusOr<PodAffinityTerms> PodAffinityTerms::Of(const json::Value& pod) {
  PodAffinityTerms out;
  const json::Value* affinity = pod.Get({"spec", "affinity"});
  if (affinity == nullptr) return out;
  struct Part {
    const char* kind;
    const char* when;
    bool weighted;
    std::vector<AffinityTerm>* into;
  };
  const Part parts[] = {
      {"podAffinity", "requiredDuringSchedulingIgnoredDuringExecution", false, &out.required_affinity},
      {"podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", false, &out.required_anti_affinity},
      {"podAffinity", "preferredDuringSchedulingIgnoredDuringExecution", true, &out.preferred_affinity},
      {"podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", true, &out.preferred_anti_affinity},
  };
  for (const Part& p : parts) {
    auto terms = ParseTerms(pod, affinity->Get({p.kind, p.when}), p.weighted);
    if (!terms.ok()) return absl::InvalidArgumentError(StrCat("spec.affinity.", p.kind, ".", p.when, ": ", terms.status().message()));
    *p.into = std::move(*terms);
  }
  return out;
}

absl::StatusOr<InterPodAffinity> InterPodAffinity::Compute(const json::Value& pod, const ClusterView& cluster) {
  InterPodAffinity state;
  auto own = PodAffinityTerms::Of(pod);
  if (!own.ok()) return own.status();
  state.own_ = std::move(*own);
  const PodAffinityTerms& me = state.own_;
  auto bump = [](PairCounts& counts, const std::string& key, const json::Value& node, int64_t by) {
    if (const std::string* value = LabelOf(node, key)) counts[key][*value] += by;
  };
  // What the placed pods' terms say of the incoming pod. Views that share one parsed list among
  // pods with the same terms (a ReplicaSet's) get each list matched once per attempt.
  struct Effect {
    PairCounts* counts;
    const std::string* key;
    int64_t by;
  };
  absl::flat_hash_map<const PodAffinityTerms*, std::vector<Effect>> effects_of;
  auto effects = [&](const PodAffinityTerms& terms) {
    std::vector<Effect> out;
    for (const AffinityTerm& t : terms.required_anti_affinity) {
      if (t.Matches(pod, cluster)) out.push_back({&state.existing_anti_, &t.topology_key, 1});
    }
    for (const AffinityTerm& t : terms.required_affinity) {
      if (t.Matches(pod, cluster)) out.push_back({&state.score_, &t.topology_key, kHardPodAffinityWeight});
    }
    for (const AffinityTerm& t : terms.preferred_affinity) {
      if (t.Matches(pod, cluster)) out.push_back({&state.score_, &t.topology_key, t.weight});
    }
    for (const AffinityTerm& t : terms.preferred_anti_affinity) {
      if (t.Matches(pod, cluster)) out.push_back({&state.score_, &t.topology_key, -t.weight});
    }
    return out;
  };
  std::vector<Effect> group_effects;
  bool grouped = cluster.ForEachTermGroup(
      [&](const PodAffinityTerms& terms) {
        group_effects = effects(terms);
        return !group_effects.empty();
      },
      [&](const json::Value& node, int64_t pods) {
        for (const Effect& e : group_effects) bump(*e.counts, *e.key, node, e.by * pods);
      });
  if (!grouped) {
    cluster.ForEachPodWithAffinity([&](const json::Value& other, const json::Value& node, const PodAffinityTerms* cached) {
      if (cached == nullptr) {
        auto parsed = PodAffinityTerms::Of(other);
        if (!parsed.ok()) return;  // a placed pod's bad terms cannot block everyone else
        for (const Effect& e : effects(*parsed)) bump(*e.counts, *e.key, node, e.by);
        return;
      }
      auto it = effects_of.find(cached);
      if (it == effects_of.end()) it = effects_of.emplace(cached, effects(*cached)).first;
      for (const Effect& e : it->second) bump(*e.counts, *e.key, node, e.by);
    });
  }
  // What the incoming pod's terms say of the placed pods: each term reads only the pods its
  // selector may match, in its namespaces.
  auto for_each_candidate = [&](const AffinityTerm& t, const ClusterView::PodFn& fn) {
    if (!t.selector) return;
    if (t.namespace_selector) {
      cluster.ForEachPodMaybeMatching(nullptr, *t.selector, fn);
    } else {
      for (const std::string& ns : t.namespaces) cluster.ForEachPodMaybeMatching(&ns, *t.selector, fn);
    }
  };
  if (!me.required_affinity.empty()) {
    for_each_candidate(me.required_affinity.front(), [&](const json::Value& other, const json::Value& node) {
      if (!MatchesAll(me.required_affinity, other, cluster)) return;
      for (const AffinityTerm& t : me.required_affinity) bump(state.affinity_, t.topology_key, node, 1);
    });
  }
  for (const AffinityTerm& t : me.required_anti_affinity) {
    for_each_candidate(t, [&](const json::Value& other, const json::Value& node) {
      if (t.Matches(other, cluster)) bump(state.anti_, t.topology_key, node, 1);
    });
  }
  for (const AffinityTerm& t : me.preferred_affinity) {
    for_each_candidate(t, [&](const json::Value& other, const json::Value& node) {
      if (t.Matches(other, cluster)) bump(state.score_, t.topology_key, node, t.weight);
    });
  }
  for (const AffinityTerm& t : me.preferred_anti_affinity) {
    for_each_candidate(t, [&](const json::Value& other, const json::Value& node) {
      if (t.Matches(other, cluster)) bump(state.score_, t.topology_key, node, -t.weight);
    });
  }
  state.self_matches_affinity_ = MatchesAll(me.required_affinity, pod, cluster);
  return state;
}

int64_t InterPodAffinity::CountAt(const PairCounts& counts, const json::Value& node, const std::string& key, bool& has_key) {
  const std::string* value = LabelOf(node, key);
  has_key = value != nullptr;
  if (!has_key) return 0;
  auto k = counts.find(key);
  if (k == counts.end()) return 0;
  auto v = k->second.find(*value);
  return v == k->second.end() ? 0 : v->second;
}

std::string InterPodAffinity::Filter(const json::Value& node) const {
  if (!own_.required_affinity.empty()) {
    bool pods_exist = true;
    for (const AffinityTerm& t : own_.required_affinity) {
      bool has_key;
      if (CountAt(affinity_, node, t.topology_key, has_key) <= 0) pods_exist = false;
      if (!has_key) return kAffinityRulesNotMatch;  // every topology label must be on the node
    }
    // The first pod of a group whose terms select itself may go anywhere its topology
    // labels exist, or it would wait forever.
    if (!pods_exist && !(affinity_.empty() && self_matches_affinity_)) return kAffinityRulesNotMatch;
  }
  for (const AffinityTerm& t : own_.required_anti_affinity) {
    bool has_key;
    if (CountAt(anti_, node, t.topology_key, has_key) > 0) return kAntiAffinityRulesNotMatch;
  }
  for (const auto& [key, values] : existing_anti_) {
    const std::string* value = LabelOf(node, key);
    if (value == nullptr) continue;
    if (auto v = values.find(*value); v != values.end() && v->second > 0) return kExistingAntiAffinityNotMatch;
  }
  return "";
}

int64_t InterPodAffinity::Score(const json::Value& node) const {
  int64_t score = 0;
  for (const auto& [key, values] : score_) {
    const std::string* value = LabelOf(node, key);
    if (value == nullptr) continue;
    if (auto v = values.find(*value); v != values.end()) score += v->second;
  }
  return score;
}

void NormalizeAffinityScores(std::vector<int64_t>& scores) {
  if (scores.empty()) return;
  auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  int64_t min = *lo, diff = *hi - *lo;
  for (int64_t& s : scores) s = diff > 0 ? static_cast<int64_t>(100.0 * static_cast<double>(s - min) / static_cast<double>(diff)) : 0;
}

}  // namespace berth::controllers::builtin
