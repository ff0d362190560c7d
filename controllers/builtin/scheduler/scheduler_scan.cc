// File: controllers/builtin/scheduler/scheduler_scan.cc
// One scheduling attempt's scan, under the scheduler's lock: the node cache it reads, the
// filters and scores over the sampled nodes, and the choice among the feasible ones (with the
// scores normalized over all of them). Reconcile (scheduler.cc) acts on what it finds.
#include "controllers/builtin/scheduler/scheduler.h"
#include "controllers/builtin/scheduler/scheduler_internal.h"

#include <algorithm>
#include <functional>

#include "controllers/builtin/common/pods.h"
#include "controllers/builtin/placement/topology_spread.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

namespace {

// A node that passed every filter, with its score before the normalized parts.
struct Feasible {
  size_t index;  // in the node cache
  double score;
  size_t tie;
  std::vector<double> raw;  // the normalized plugins' raw figures (SchedulerProfile::NormalizedFor)
};

// TaintToleration's normalization (upstream's DefaultNormalizeScore, reversed): the node with the
// most intolerable PreferNoSchedule taints scores 0, a node with none 100.
std::vector<int64_t> TaintTolerationScores(const json::Value& pod, const std::vector<const json::Value*>& nodes) {
  std::vector<int64_t> scores;
  int64_t most = 0;
  for (const json::Value* n : nodes) {
    scores.push_back(IntolerablePreferNoScheduleTaints(pod, *n));
    most = std::max(most, scores.back());
  }
  for (int64_t& s : scores) s = most == 0 ? 100 : 100 - s * 100 / most;
  return scores;
}

// The feasible node with the highest total: its own score plus InterPodAffinity,
// PodTopologySpread, TaintToleration and the normalized plugins (NodeAffinity), each normalized
// over all of them and weighted by the profile (2, 2, 3 and 2 by default).
size_t BestFeasible(const json::Value& pod, const std::vector<Feasible>& feasible, const std::vector<const json::Value*>& nodes,
                    const InterPodAffinity* affinity, const TopologySpread* spread, bool taint_scores,
                    const std::vector<const SchedulerProfile::Weighted*>& normalized, const SchedulerProfile& profile) {
  std::vector<double> plugin_totals(feasible.size(), 0);
  if (!normalized.empty()) {
    std::vector<std::vector<double>> raw;
    for (const Feasible& f : feasible) raw.push_back(f.raw);
    plugin_totals = NormalizedTotals(normalized, raw);
  }
  std::vector<int64_t> affinity_scores(feasible.size(), 0), spread_scores(feasible.size(), 0);
  std::vector<int64_t> taint_toleration(feasible.size(), 0);
  if (taint_scores) taint_toleration = TaintTolerationScores(pod, nodes);
  if (affinity && affinity->scores()) {
    for (size_t i = 0; i < nodes.size(); ++i) affinity_scores[i] = affinity->Score(*nodes[i]);
    NormalizeAffinityScores(affinity_scores);
  }
  if (spread && spread->scores()) {
    std::vector<std::optional<int64_t>> raw;
    for (const json::Value* n : nodes) raw.push_back(spread->Score(*n));
    spread_scores = NormalizeSpreadScores(raw);
  }
  size_t best = 0;
  double best_total = -1;
  for (size_t i = 0; i < feasible.size(); ++i) {
    double total = feasible[i].score + plugin_totals[i] +
                   static_cast<double>(profile.inter_pod_affinity_weight) * static_cast<double>(affinity_scores[i]) +
                   static_cast<double>(profile.topology_spread_weight) * static_cast<double>(spread_scores[i]) +
                   static_cast<double>(profile.taint_toleration_weight) * static_cast<double>(taint_toleration[i]);
    if (total > best_total || (total == best_total && feasible[i].tie > feasible[best].tie)) {
      best = i;
      best_total = total;
    }
  }
  return best;
}

}  // namespace


// The scheduler's cache (nodes, placed and assumed pods) as inter-pod rules read it; used
// under mu_ only, for the length of one attempt.
class Scheduler::CacheView final : public ClusterView {
 public:
  explicit CacheView(const Scheduler& s) : s_(s) {}
  void ForEachNode(const NodeFn& fn) const override {
    for (const NodeInfo& n : s_.nodes_cache_) fn(*n.object);
  }
  void ForEachPod(const PodFn& fn) const override {
    s_.pod_index_.ForEach([&](const PlacedPodIndex::Entry& e) { Visit(e, fn); });
  }
  void ForEachPodWithAffinity(const AffinityPodFn& fn) const override {
    const std::string* last = nullptr;
    const json::Value* node = nullptr;
    s_.pod_index_.ForEachWithAffinity([&](const std::string& name, const PlacedPodIndex::Entry& e) {
      if (last != &name) last = &name, node = NodeObject(name);  // grouped by node: one lookup each
      if (node) fn(*e.object, *node, e.terms.get());
    });
  }
  bool ForEachTermGroup(const TermsFn& wants, const NodeCountFn& fn) const override {
    s_.pod_index_.ForEachTermGroup(wants, [&](const std::string& name, int64_t pods) {
      if (const json::Value* node = NodeObject(name)) fn(*node, pods);
    });
    return true;
  }
  void ForEachNodeLabelled(const std::string& key, const LabelledNodeFn& fn) const override {
    auto column = s_.label_columns_.find(key);
    if (column == s_.label_columns_.end()) {
      std::vector<std::pair<const json::Value*, const std::string*>> built;
      for (const NodeInfo& n : s_.nodes_cache_) {
        if (const std::string* v = LabelOf(*n.object, key)) built.emplace_back(n.object.get(), v);
      }
      column = s_.label_columns_.emplace(key, std::move(built)).first;
    }
    for (const auto& [node, value] : column->second) fn(*node, *value);
  }
  void ForEachPodMaybeMatching(const std::string* ns, const selector::LabelSelector& selector, const PodFn& fn) const override {
    s_.pod_index_.ForEachMaybeMatching(ns, selector, [&](const PlacedPodIndex::Entry& e) { Visit(e, fn); });
  }
  const json::Value* NamespaceLabels(const std::string& ns) const override {
    if (s_.namespaces_ == nullptr) return nullptr;
    auto it = held_.find(ns);
    if (it == held_.end()) it = held_.emplace(ns, s_.namespaces_->Get(ns)).first;
    return it->second ? it->second->Get({"metadata", "labels"}) : nullptr;
  }

 private:
  // The same node object ForEachNode gives, as ClusterView promises; none for a node gone.
  const json::Value* NodeObject(const std::string& name) const {
    auto idx = s_.node_index_.find(name);
    return idx == s_.node_index_.end() ? nullptr : s_.nodes_cache_[idx->second].object.get();
  }
  void Visit(const PlacedPodIndex::Entry& e, const PodFn& fn) const {
    if (const json::Value* node = NodeObject(e.node)) fn(*e.object, *node);
  }
  const Scheduler& s_;
  mutable std::map<std::string, ObjectPtr> held_;  // keeps returned labels alive
};

void Scheduler::RefreshNodesLocked() {
  if (!nodes_dirty_) return;
  label_columns_.clear();
  nodes_cache_.clear();
  prefer_no_schedule_nodes_ = 0;
  node_index_.clear();
  for (const ObjectPtr& n : nodes_.List()) {
    NodeInfo info;
    info.object = n;
    info.name = n->GetString({"metadata", "name"});
    info.name_hash = std::hash<std::string>{}(info.name);
    info.allocatable = NodeAllocatable::Of(*n);
    const json::Value* ready = FindCondition(*n, "Ready");
    info.ready = ready && ready->GetString({"status"}) == "True";
    const json::Value* unsched = n->Get({"spec", "unschedulable"});
    const json::Value* taints = n->Get({"spec", "taints"});
    info.plain = !(unsched && unsched->is_bool() && unsched->as_bool()) && (taints == nullptr || taints->size() == 0);
    if (taints && taints->is_array()) {
      for (const json::Value& t : taints->as_array()) {
        info.prefer_no_schedule = info.prefer_no_schedule || t.GetString({"effect"}) == "PreferNoSchedule";
      }
    }
    prefer_no_schedule_nodes_ += info.prefer_no_schedule ? 1 : 0;
    node_index_[info.name] = nodes_cache_.size();
    nodes_cache_.push_back(std::move(info));
  }
  ResolveUsageLocked();
  // Fair shares divide by what the Ready nodes offer.
  ResourceMilli capacity;
  for (const NodeInfo& n : nodes_cache_) {
    if (!n.ready) continue;
    capacity["cpu"] += n.allocatable.cpu;
    capacity["memory"] += n.allocatable.memory;
    for (const auto& [name, milli] : n.allocatable.scalar) capacity[name] += milli;
  }
  {
    std::lock_guard<std::mutex> share(share_mu_);
    fair_share_.SetCapacity(std::move(capacity));
  }
  nodes_dirty_ = false;
}

void Scheduler::ResolveUsageLocked() {
  for (NodeInfo& n : nodes_cache_) n.usage = &usage_[n.name];
}

namespace {
// A well-spread value for a (pod, node) pair from their two hashes: splitmix64's finalizer.
size_t MixHashes(size_t a, size_t b) {
  uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

Scheduler::Attempt Scheduler::AttemptLocked(const std::string& key, const json::Value& pod, const RunningPod& me,
                                            const SchedulerProfile& profile) {
  Attempt a;
  const PodRequests& req = me.requests;
  {
    std::lock_guard<std::mutex> share(share_mu_);
    a.queue_block = fair_share_.MaxReason(QueueOfNamespaceLocked(Request::FromKey(key).ns), req);
  }
  a.node_count = nodes_cache_.size();
  size_t node_count = a.node_count;
  size_t want = NodesToFind(node_count);
  size_t found = 0;
  double best = -1;
  size_t best_tie = 0;
  // Room promised to nominated pods of at least this priority counts as used on their node
  // (added to a scratch copy only for nodes that have nominations).
  NodeUsage scratch;
  // A pod without placement constraints needs only the cached numbers on plain nodes.
  // (Inter-pod rules run after the node filters, on their own.)
  bool pod_plain = pod.Get({"spec", "nodeSelector"}) == nullptr && pod.Get({"spec", "affinity", "nodeAffinity"}) == nullptr;
  // Inter-pod rules: the pod's own terms and spread constraints, and the placed pods' terms.
  std::optional<InterPodAffinity> affinity;
  std::optional<TopologySpread> spread;
  if (ClusterView::HasPodAffinity(pod) || pod_index_.any_affinity() || TopologySpread::HasConstraints(pod)) {
    CacheView view(*this);
    auto ipa = InterPodAffinity::Compute(pod, view);
    auto t = TopologySpread::Compute(pod, view);
    if (!ipa.ok() || !t.ok()) {
      a.prefilter_error = std::string(!ipa.ok() ? ipa.status().message() : t.status().message());
    } else {
      if (ipa->filters() || ipa->scores()) affinity = std::move(*ipa);
      if (t->filters() || t->scores()) spread = std::move(*t);
    }
  }
  // TaintToleration gives every node the same score while no node has a PreferNoSchedule taint.
  const bool taint_scores = profile.taint_toleration_weight > 0 && prefer_no_schedule_nodes_ > 0;
  // Plugins whose figures are scaled over the feasible nodes, for this pod (NodeAffinity when it
  // has preferred terms).
  const std::vector<const SchedulerProfile::Weighted*> normalized = profile.NormalizedFor(pod);
  // Their scores are normalized over the feasible nodes, so the choice waits for the scan.
  bool deferred_choice = (affinity && affinity->scores()) || (spread && spread->scores()) || taint_scores || !normalized.empty();
  std::vector<Feasible> feasible;
  // The filters that run after resources, in upstream's order; "" when the node passes.
  auto inter_pod_reason = [&](const json::Value& node) -> std::string {
    if (spread && spread->filters()) {
      if (std::string why = spread->Filter(node); !why.empty()) return why;
    }
    if (affinity && affinity->filters()) return affinity->Filter(node);
    return "";
  };
  // A pod nominated to a node tries that node first, as upstream does; while the victims it
  // chose there are still leaving it waits for them rather than scanning every node and
  // preempting again (each victim's departure wakes it).
  if (const Nomination* nom = nominated_.Find(key)) {
    if (auto idx = node_index_.find(nom->node); idx != node_index_.end()) {
      const NodeInfo& n = nodes_cache_[idx->second];
      NodeUsage u = *n.usage;
      AddHeldLocked(n.name, key, me.priority, u);
      if (FitReasons(pod, req, *n.object, u).empty() && inter_pod_reason(*n.object).empty()) {
        a.chosen = n.name;
        a.nominated_fits = true;
      } else {
        a.waiting_for_victims = OwnVictimsLeavingLocked(key);
      }
    }
  }
  // The scan holds mu_, so it is every worker's serial part: per node it looks up no more than
  // it must and copies no names.
  const size_t key_hash = std::hash<std::string>{}(key);
  const bool any_nominated = !nominated_.Empty();
  size_t largest_free = node_count;  // index of the node with the most free cpu
  // Scan from a rotating start so that sampling covers every node over time.
  for (size_t i = 0; a.prefilter_error.empty() && a.queue_block.empty() && !a.nominated_fits && !a.waiting_for_victims &&
                     i < node_count && found < want;
       ++i) {
    size_t index = (next_start_ + i) % node_count;
    const NodeInfo& n = nodes_cache_[index];
    const NodeUsage* u = n.usage;
    if (any_nominated && nominated_.OnNode(n.name) != nullptr) {
      scratch = *u;
      if (AddHeldLocked(n.name, key, me.priority, scratch)) u = &scratch;
    }
    if (n.ready && n.allocatable.cpu - u->cpu > a.largest_free_cpu) {
      largest_free = index;
      a.largest_free_cpu = n.allocatable.cpu - u->cpu;
      a.largest_free_memory = n.allocatable.memory - u->memory;
    }
    std::vector<std::string> why;
    if (pod_plain && n.plain) {
      if (!n.ready) {
        why.push_back("node(s) were not ready");
      } else {
        why = ResourceFitReasons(req, n.allocatable, *u);
      }
    } else {
      why = FitReasons(pod, req, *n.object, *u);
    }
    if (why.empty() && (affinity || spread)) {
      if (std::string inter_pod = inter_pod_reason(*n.object); !inter_pod.empty()) why.push_back(std::move(inter_pod));
      a.refused_by_pods = a.refused_by_pods || !why.empty();
    }
    if (!why.empty()) {
      for (const std::string& w : why) a.reasons[w]++;
      if (std::all_of(why.begin(), why.end(), ResolvableByPreemption)) {
        a.resolvable.push_back(index);
      } else if (why.size() == 1 && ResolvableByRemovingMatchingPods(why[0])) {
        a.refused_by_rules.push_back(index);
      }
      continue;
    }
    ++found;
    ScoreInput in{pod, req, *n.object, n.allocatable, *u};
    double s = profile.Score(in);
    // Spread equal scores: a hash of pod and node breaks ties without a shared counter.
    size_t tie = MixHashes(key_hash, n.name_hash);
    if (deferred_choice) {
      Feasible f{index, s, tie, {}};
      for (const SchedulerProfile::Weighted* w : normalized) f.raw.push_back(w->plugin->Score(in));
      feasible.push_back(std::move(f));
    } else if (s > best || (s == best && tie > best_tie)) {
      best = s;
      best_tie = tie;
      a.chosen = n.name;
    }
  }
  if (largest_free < node_count) a.largest_free_node = nodes_cache_[largest_free].name;
  if (deferred_choice && !feasible.empty()) {
    std::vector<const json::Value*> objects;
    for (const Feasible& f : feasible) objects.push_back(nodes_cache_[f.index].object.get());
    a.chosen = nodes_cache_[feasible[BestFeasible(pod, feasible, objects, affinity ? &*affinity : nullptr,
                                                spread ? &*spread : nullptr, taint_scores, normalized, profile)].index].name;
  }
  return a;
}

}  // namespace berth::controllers::builtin
