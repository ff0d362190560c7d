#include "controllers/builtin/scheduler/scheduler.h"
#include "controllers/builtin/scheduler/scheduler_internal.h"
#include "controllers/builtin/scheduler/queue_preemption.h"

#include <algorithm>
#include <functional>

#include "controllers/builtin/common/pods.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/resource/pod_resources.h"
#include "core/selector/label_selector.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

using scheduler_internal::Ignorable;
using scheduler_internal::kPodScheduled;
using scheduler_internal::PriorityOf;
using scheduler_internal::SetScheduledCondition;

namespace {

// A published nomination cleared (a higher-priority preemptor displaced the pod from its node):
// the pod looks for another place now, as upstream's prepareCandidate moves such pods to the
// active queue, rather than waiting for its timer.
bool NominationTakenAway(const json::Value& old_pod, const json::Value& pod) {
  return !old_pod.GetString({"status", "nominatedNodeName"}).empty() &&
         pod.GetString({"status", "nominatedNodeName"}).empty() && pod.GetString({"spec", "nodeName"}).empty();
}

// Whether only status (and the metadata that moves with every write) changed: upstream's
// isPodUpdated, which keeps a pending pod's own status writes from re-queueing it.
bool StatusOnlyChange(const json::Value& old_pod, const json::Value& pod) {
  auto strip = [](const json::Value& p) {
    json::Value copy = p;
    copy.Erase("status");
    if (json::Value* meta = copy.Find("metadata")) {
      for (const char* f : {"resourceVersion", "generation", "managedFields"}) meta->Erase(f);
      // The scheduler's own explanation is as much a status write as the condition.
      if (json::Value* annotations = meta->Find("annotations")) {
        annotations->Erase(kWhyPendingAnnotation);
        if (annotations->size() == 0) meta->Erase("annotations");
      }
    }
    return copy;
  };
  return strip(old_pod) == strip(pod);
}

}  // namespace

Scheduler::Scheduler(client::ApiClient& api, Informer& pods, Informer& nodes, const Clock& clock, int workers,
                     absl::Duration usage_resync)
    : api_(api), pods_(pods), nodes_(nodes), clock_(clock), controller_("scheduler", *this, clock, workers) {
  // Kubernetes' PrioritySort: higher spec.priority first, then older pods first. With several
  // workers the order is that of the dequeues; decisions still serialize on mu_.
  controller_.queue().SetRanking([this](const std::string& key) { return RankOf(key); });
  // Among pods of equal priority, the queue (rank[1]) with the lower weighted dominant share
  // goes first (compared at the first level where their queues differ), then the older pod.
  controller_.queue().SetHeadOrder([this](const WorkQueue::Rank& a, const WorkQueue::Rank& b) {
    if (a[1] != b[1]) {
      std::lock_guard<std::mutex> lock(share_mu_);
      std::optional<bool> before = fair_share_.Before(group_names_.at(static_cast<size_t>(a[1])),
                                                      group_names_.at(static_cast<size_t>(b[1])));
      if (before) return *before;
    }
    return a[2] < b[2];
  });
  if (usage_resync > absl::ZeroDuration()) {
    // Level-triggered, beside the wake-ups on events: a nominee whose room came free by a change
    // no event reported is retried within a second rather than at its five-minute safety net.
    nominee_sweep_ = std::make_unique<Periodic>(absl::Seconds(1), [this] { RetryNomineesThatFit(); });
    resync_ = std::make_unique<Periodic>(usage_resync, [this] {
      if (size_t fixed = ResyncUsage(); fixed > 0) {
        BERTH_LOG(Warning, "controllers.scheduler", "Per-node usage had drifted from the pod cache; corrected", "nodes", fixed);
      }
    });
  }
  pods_.AddHandlers({
      [this](const ObjectPtr& p) { OnPodChanged(p, false); },
      [this](const ObjectPtr& old_pod, const ObjectPtr& p) {
        OnPodChanged(p, false, !StatusOnlyChange(*old_pod, *p) || NominationTakenAway(*old_pod, *p));
      },
      [this](const ObjectPtr& p) { OnPodChanged(p, true); },
  });
  auto nodes_changed = [this] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      nodes_dirty_ = true;
      ++cluster_changes_;
    }
    RetryUnschedulable();
  };
  nodes_.AddHandlers({
      [nodes_changed](const ObjectPtr&) { nodes_changed(); },
      [nodes_changed](const ObjectPtr&, const ObjectPtr&) { nodes_changed(); },
      [nodes_changed](const ObjectPtr&) { nodes_changed(); },
  });
}

const SchedulerProfile* Scheduler::ProfileOf(const json::Value& pod) const {
  if (!pod.GetString({"spec", "nodeName"}).empty() || pod.Get({"metadata", "deletionTimestamp"}) != nullptr) return nullptr;
  auto it = profile_index_.find(pod.GetString({"spec", "schedulerName"}, "default-scheduler"));
  return it == profile_index_.end() ? nullptr : &profiles_[it->second];
}

void Scheduler::SetProfiles(std::vector<SchedulerProfile> profiles) {
  profiles_ = std::move(profiles);
  profile_index_.clear();
  for (size_t i = 0; i < profiles_.size(); ++i) profile_index_[profiles_[i].scheduler_name] = i;
}

absl::Status Scheduler::WriteScheduledCondition(const json::Value& pod, const std::string& reason,
                                                const std::string& message) {
  json::Value updated = pod;
  if (!SetScheduledCondition(updated, reason, message, clock_.Now())) return absl::OkStatus();
  auto r = api_.UpdateStatus(client::resources::kPods, updated);
  if (r.status().code() == absl::StatusCode::kAborted) {
    conflicts_reread_++;
    auto fresh = api_.Get(client::resources::kPods, pod.GetString({"metadata", "namespace"}),
                          pod.GetString({"metadata", "name"}));
    if (!fresh.ok()) return Ignorable(fresh.status()) ? absl::OkStatus() : fresh.status();
    // Another pod by that name now, or bound meanwhile: this attempt's finding is not its own.
    if (fresh->GetString({"metadata", "uid"}) != pod.GetString({"metadata", "uid"}) ||
        !fresh->GetString({"spec", "nodeName"}).empty()) {
      return absl::OkStatus();
    }
    if (!SetScheduledCondition(*fresh, reason, message, clock_.Now())) return absl::OkStatus();
    r = api_.UpdateStatus(client::resources::kPods, *fresh);
  }
  return r.ok() || Ignorable(r.status()) ? absl::OkStatus() : r.status();
}

RunningPod Scheduler::RunningPodOf(const std::string& key, const json::Value& pod) {
  RunningPod r;
  r.key = key;
  r.priority = PriorityOf(pod);
  std::string started = pod.GetString({"status", "startTime"});
  if (started.empty()) started = pod.GetString({"metadata", "creationTimestamp"});
  r.start_micros = absl::ToUnixMicros(ParseRfc3339(started, absl::UnixEpoch()));
  r.requests = RequestsOf(pod);
  return r;
}

void Scheduler::PlaceLocked(const std::string& key, const std::string& node, const RunningPod& pod) {
  UnplaceLocked(key);
  ++cluster_changes_;
  usage_[node].Add(pod.requests);
  std::string queue;
  {
    std::lock_guard<std::mutex> share(share_mu_);
    queue = QueueOfNamespaceLocked(Request::FromKey(key).ns);
    fair_share_.Add(queue, pod.requests);
  }
  placed_[key] = {node, pod, false, std::move(queue), FairShare::VectorOf(pod.requests)};
  keys_on_node_[node].insert(key);
  ++placed_by_priority_[pod.priority];
}

void Scheduler::UnplaceLocked(const std::string& key) {
  evicting_.erase(key);
  terminating_.erase(key);
  auto it = placed_.find(key);
  if (it == placed_.end()) return;  // every status write of a pending pod comes here
  ++cluster_changes_;
  usage_[it->second.node].Remove(it->second.pod.requests);
  if (auto k = keys_on_node_.find(it->second.node); k != keys_on_node_.end()) {
    k->second.erase(key);
    if (k->second.empty()) keys_on_node_.erase(k);
  }
  pod_index_.Remove(key);
  {
    std::lock_guard<std::mutex> share(share_mu_);
    fair_share_.Remove(it->second.queue, it->second.pod.requests);
  }
  if (auto c = placed_by_priority_.find(it->second.pod.priority); c != placed_by_priority_.end() && --c->second == 0) {
    placed_by_priority_.erase(c);
  }
  placed_.erase(it);
}

void Scheduler::NominateLocked(const std::string& key, const std::string& node, const RunningPod& pod) {
  DenominateLocked(key, node);
  ++cluster_changes_;
  nominated_.Add(key, node, pod);
}

bool Scheduler::DenominateLocked(const std::string& key, const std::string& now_on) {
  const Nomination* nom = nominated_.Find(key);
  if (nom == nullptr) return false;
  // The room it held there is free, unless it now takes that room itself.
  if (nom->node != now_on) released_nodes_.push_back(nom->node);
  nominated_.Remove(key);
  ++cluster_changes_;
  return true;
}

void Scheduler::RetryAfterReleasedNominations() {
  std::set<std::string> nodes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    nodes.insert(released_nodes_.begin(), released_nodes_.end());
    released_nodes_.clear();
  }
  // Room held there is free, as if a pod had left the node.
  for (const std::string& node : nodes) RetryAfterPodChange(node, true);
}

void Scheduler::OnPodChanged(const ObjectPtr& p, bool deleted, bool requeue) {
  std::string key = Informer::KeyOf(*p);
  std::string node = p->GetString({"spec", "nodeName"});
  std::string phase = p->GetString({"status", "phase"});
  bool counts = !deleted && !node.empty() && phase != "Succeeded" && phase != "Failed";
  bool freed = false;
  std::string freed_node = node;  // where room came free: its placement's node, not its spec's
  bool placed = false;  // newly counted on a node, or relabelled: inter-pod rules may now pass
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (counts) {
      assumed_.erase(key);          // the binding is in the cache now
      DenominateLocked(key, node);  // bound: the room it waited for is used
      auto it = placed_.find(key);
      if (it == placed_.end() || it->second.node != node) {
        PlaceLocked(key, node, RunningPodOf(key, *p));
      } else {
        // status.startTime arrives after the binding: preemption ranks victims by it.
        it->second.pod.start_micros = RunningPodOf(key, *p).start_micros;
      }
      bool terminating = p->Get({"metadata", "deletionTimestamp"}) != nullptr;
      if (placed_[key].terminating != terminating) ++cluster_changes_;
      placed_[key].terminating = terminating;
      if (terminating) {
        terminating_.insert(key);
      } else {
        terminating_.erase(key);
      }
      placed = pod_index_.Put(key, node, p);
    } else if (deleted || !assumed_.count(key)) {
      // A pod deleted while its binding is in flight is gone all the same (the binding will find
      // nothing): its room is freed now, and the nominees waiting on that node, for which it
      // may have been a victim, are woken now, not by a binding failure that wakes no one.
      if (auto it = placed_.find(key); it != placed_.end()) {
        freed = true;
        freed_node = it->second.node;
      }
      assumed_.erase(key);
      UnplaceLocked(key);
    }
    if (deleted) {
      freed = DenominateLocked(key) || freed;  // the room it held is free for others
    } else if (node.empty() && !nominated_.Contains(key)) {
      // A nomination made before this scheduler started (or by another instance): honour it.
      if (std::string nn = p->GetString({"status", "nominatedNodeName"}); !nn.empty() && Ours(*p)) {
        NominateLocked(key, nn, RunningPodOf(key, *p));
      }
    }
  }
  if (counts || deleted) {
    std::lock_guard<std::mutex> lock(mu_);
    attempts_.erase(key);
    why_written_.erase(key);
  }
  if (freed || placed) RetryAfterPodChange(freed ? freed_node : node, freed);
  RetryAfterReleasedNominations();
  if (!deleted && requeue && Ours(*p)) controller_.Enqueue(key);
}

size_t Scheduler::ResyncUsage() {
  std::lock_guard<std::mutex> lock(mu_);
  // Listing under mu_: a cache change whose handler has not run yet is seen here, and that
  // handler finds it already counted (handlers are idempotent).
  decltype(placed_) placed;
  decltype(usage_) usage;
  decltype(keys_on_node_) keys_on_node;
  std::set<std::string> kept;
  auto place = [&](const std::string& key, const Placement& placement, const ObjectPtr& object) {
    usage[placement.node].Add(placement.pod.requests);
    keys_on_node[placement.node].insert(key);
    placed[key] = placement;
    if (object) {
      pod_index_.Put(key, placement.node, object);
      kept.insert(key);
    }
  };
  for (const ObjectPtr& p : pods_.List()) {
    std::string node = p->GetString({"spec", "nodeName"});
    std::string phase = p->GetString({"status", "phase"});
    if (node.empty() || phase == "Succeeded" || phase == "Failed") continue;
    std::string key = Informer::KeyOf(*p);
    place(key, {node, RunningPodOf(key, *p), p->Get({"metadata", "deletionTimestamp"}) != nullptr}, p);
  }
  for (const auto& [key, a] : assumed_) {
    if (!placed.count(key)) place(key, a, pods_.Get(key));
  }
  pod_index_.RemoveAllBut(kept);
  size_t corrected = 0;
  std::set<std::string> nodes;
  for (const auto& [n, u] : usage_) nodes.insert(n);
  for (const auto& [n, u] : usage) nodes.insert(n);
  for (const std::string& n : nodes) {
    NodeUsage before = usage_.count(n) ? usage_[n] : NodeUsage{};
    NodeUsage after = usage.count(n) ? usage[n] : NodeUsage{};
    if (!(before == after)) ++corrected;
  }
  placed_ = std::move(placed);
  terminating_.clear();
  for (const auto& [k, p] : placed_) {
    if (p.terminating) terminating_.insert(k);
  }
  usage_ = std::move(usage);
  ResolveUsageLocked();
  keys_on_node_ = std::move(keys_on_node);
  placed_by_priority_.clear();
  for (const auto& [k, p] : placed_) ++placed_by_priority_[p.pod.priority];
  {
    std::lock_guard<std::mutex> share(share_mu_);
    RechargeLocked();
  }
  return corrected;
}

std::pair<int64_t, int64_t> Scheduler::UsageForTest(const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = usage_.find(node);
  return it == usage_.end() ? std::pair<int64_t, int64_t>{0, 0} : std::pair<int64_t, int64_t>{it->second.cpu, it->second.pods};
}

void Scheduler::ForgetPlacementForTest(const std::string& pod_key) {
  std::lock_guard<std::mutex> lock(mu_);
  UnplaceLocked(pod_key);
}

size_t Scheduler::RetryNomineesThatFit() {
  std::vector<std::string> fit;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (nominated_.Empty()) return 0;  // the common case: no node rebuild once a second for nothing
    RefreshNodesLocked();
    for (const auto& [key, nom] : nominated_.All()) {
      // Queued or being tried already, or still waiting for its own victims: nothing was missed.
      // Once per nomination: a pod that fits by resources but not by inter-pod rules is not
      // retried every second.
      if (nom.swept || !unschedulable_.contains(key) || OwnVictimsLeavingLocked(key)) continue;
      auto idx = node_index_.find(nom.node);
      ObjectPtr pod = pods_.Get(key);
      if (idx == node_index_.end() || pod == nullptr) continue;
      const NodeInfo& n = nodes_cache_[idx->second];
      NodeUsage u = *n.usage;
      AddHeldLocked(n.name, key, nom.pod.priority, u);
      if (FitReasons(*pod, nom.pod.requests, *n.object, u).empty()) fit.push_back(key);
    }
    for (const std::string& key : fit) {
      unschedulable_.erase(key);
      nominated_.MarkSwept(key);
    }
  }
  if (!fit.empty()) {
    nominees_swept_ += fit.size();
    BERTH_LOG(Info, "controllers.scheduler", "Nominated pods fit their node with no event to say so; retrying them",
              "pods", fit.size(), "first", fit.front());
  }
  for (const std::string& key : fit) controller_.Enqueue(key);
  return fit.size();
}

void Scheduler::AssumeForTest(const std::string& pod_key, const std::string& node) {
  ObjectPtr pod = pods_.Get(pod_key);
  if (pod == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  PlaceLocked(pod_key, node, RunningPodOf(pod_key, *pod));
  pod_index_.Put(pod_key, node, pod);
  assumed_[pod_key] = placed_.at(pod_key);
}

void Scheduler::RetryUnschedulable() {
  std::set<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.swap(unschedulable_);
    waiting_unnominated_.clear();
    waiting_by_queue_.clear();
    waiting_on_pods_.clear();
    ++move_requests_;
  }
  controller_.queue().AddAll(std::vector<std::string>(keys.begin(), keys.end()));
}

std::vector<std::string> Scheduler::WakeBelowShareLocked(const std::string& bound_key) {
  // A few per binding: enough for the queue's head to preempt, without a storm of attempts while
  // thousands wait and every node is full.
  constexpr size_t kPerQueue = 2;
  std::vector<std::string> woken;
  if (waiting_by_queue_.empty()) return woken;
  std::lock_guard<std::mutex> share(share_mu_);
  std::string above = QueueOfNamespaceLocked(Request::FromKey(bound_key).ns);
  for (auto it = waiting_by_queue_.begin(); it != waiting_by_queue_.end();) {
    auto& [queue, keys] = *it;
    // Only when a pod like the first waiting one could take from `above` now: while they are
    // within a pod of each other, waking would only repeat the attempt that found no victims.
    ObjectPtr first;
    while (!keys.empty() && (!unschedulable_.contains(*keys.begin()) || !(first = pods_.Get(*keys.begin())))) {
      keys.erase(keys.begin());  // stale: retried or gone meanwhile
    }
    auto rule = first ? QueueVictimRule::Fairness(fair_share_, queue, FairShare::VectorOf(RequestsOf(*first)), {}, {})
                      : std::nullopt;
    if (rule && rule->MayTake(above, {})) {
      for (size_t n = 0; n < kPerQueue && !keys.empty();) {
        std::string key = std::move(keys.extract(keys.begin()).value());
        if (!unschedulable_.erase(key)) continue;  // stale: retried or gone meanwhile
        waiting_unnominated_.erase(key);
        woken.push_back(std::move(key));
        ++n;
      }
    }
    it = keys.empty() ? waiting_by_queue_.erase(it) : std::next(it);
  }
  return woken;
}

void Scheduler::RetryAfterPodChange(const std::string& node, bool freed) {
  std::vector<std::string> now;
  std::vector<std::pair<std::string, absl::Duration>> later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (const std::set<std::string>* n = nominated_.OnNode(node); freed && n != nullptr) {
      // Enqueued even while being processed (the queue holds it until that attempt is done), so
      // the wake-up the victims' departure is cannot be lost.
      now.assign(n->begin(), n->end());
      for (const std::string& key : now) unschedulable_.erase(key);  // queued, no longer waiting
    }
    // Pods nominated elsewhere wait for the node they preempted on; the others come back after
    // their back-off. Only these subsets are walked: a storm of pod changes stays cheap.
    std::set<std::string> waiting;
    waiting.swap(waiting_on_pods_);
    if (freed) {
      waiting.insert(waiting_unnominated_.begin(), waiting_unnominated_.end());
      waiting_unnominated_.clear();
    }
    for (const std::string& key : waiting) {
      if (!unschedulable_.erase(key)) continue;
      int attempts = std::max(1, attempts_[key]);
      later.emplace_back(key, std::min(absl::Seconds(1) * (1 << std::min(attempts - 1, 4)), absl::Seconds(10)));
    }
  }
  controller_.queue().AddAll(now);
  for (const auto& [key, delay] : later) controller_.queue().AddAfter(key, delay);
}

bool Scheduler::AddHeldLocked(const std::string& node, const std::string& key, int64_t priority, NodeUsage& usage) const {
  const std::set<std::string>* held = nominated_.OnNode(node);
  if (held == nullptr) return false;
  bool added = false;
  for (const std::string& other : *held) {
    const Nomination& nom = *nominated_.Find(other);
    if (other == key || nom.pod.priority < priority) continue;
    // Its own victims still on the node already count in `usage`: only the rest of its
    // requests is held, or while they leave the room would count twice and keep out the
    // nominee whose victims are already gone.
    PodRequests rest = nom.pod.requests;
    int64_t slots = 1000;
    for (const std::string& victim : nom.victims) {
      auto p = placed_.find(victim);
      if (p == placed_.end() || p->second.node != node) continue;
      const PodRequests& v = p->second.pod.requests;
      rest.cpu_milli = std::max<int64_t>(0, rest.cpu_milli - v.cpu_milli);
      rest.memory_milli = std::max<int64_t>(0, rest.memory_milli - v.memory_milli);
      for (auto& [name, milli] : rest.scalar) {
        if (auto it = v.scalar.find(name); it != v.scalar.end()) milli = std::max<int64_t>(0, milli - it->second);
      }
      slots = 0;
    }
    usage.Add(rest);
    usage.pods -= 1000 - slots;  // a victim still there holds the pod slot it will free
    added = true;
  }
  return added;
}

bool Scheduler::OwnVictimsLeavingLocked(const std::string& key) const {
  const Nomination* nom = nominated_.Find(key);
  if (nom == nullptr) return false;
  if (nom->victims.empty()) return VictimsLeavingLocked(nom->node, nom->pod.priority);
  for (const std::string& victim : nom->victims) {
    if (auto p = placed_.find(victim); p != placed_.end() && p->second.node == nom->node) return true;
  }
  return false;
}

bool Scheduler::VictimsLeavingLocked(const std::string& node, int64_t priority) const {
  auto keys = keys_on_node_.find(node);
  if (keys == keys_on_node_.end()) return false;
  for (const std::string& other : keys->second) {
    const Placement& p = placed_.at(other);
    if ((p.terminating || evicting_.count(other)) && p.pod.priority < priority) return true;
  }
  return false;
}

absl::StatusOr<Result> Scheduler::Reconcile(const Request& request, std::stop_token) {
  // On every way out, after the scheduler's lock is released: a nomination this attempt moved or
  // dropped frees room on its node that other pods wait for.
  struct RetryOnExit {
    Scheduler* self;
    ~RetryOnExit() { self->RetryAfterReleasedNominations(); }
  } retry_on_exit{this};
  const auto dequeued = clock_.MonotonicNow();
  std::string key = request.Key();
  ObjectPtr pod = pods_.Get(key);
  const SchedulerProfile* profile = pod ? ProfileOf(*pod) : nullptr;
  if (profile == nullptr) return Result{};  // gone, bound, deleting, or another scheduler's
  if (const json::Value* gates = pod->Get({"spec", "schedulingGates"}); gates && gates->size() > 0) {
    // Held until every gate is removed; the update that removes the last one enqueues it again.
    if (absl::Status s = WriteScheduledCondition(*pod, "SchedulingGated",
                                                 "Scheduling is blocked due to non-empty scheduling gates");
        !s.ok()) {
      return s;
    }
    return Result{};
  }
  RunningPod me = RunningPodOf(key, *pod);
  std::string chosen;
  std::map<std::string, int> reasons;
  size_t node_count = 0;
  std::optional<PreemptionPlan> plan;
  std::string why_not;
  std::string prefilter_error;  // the pod's inter-pod terms could not be read
  std::string queue_block;      // its fair-share queue is at its max
  bool refused_by_pods = false;  // some node refused only by inter-pod rules: pod changes may help
  bool wake_waiting_on_pods = false;  // placing this pod may let pods waiting on inter-pod rules in
  uint64_t moves_seen;
  bool waiting_for_victims = false;
  bool room_would_help = false;  // some node refused only for room: a pod leaving may let it in
  Attempt attempt;                // what the scan found (for the why-pending explanation)
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (assumed_.count(key)) return Result{};  // already being bound
    moves_seen = move_requests_;
    RefreshNodesLocked();
    Attempt a = AttemptLocked(key, *pod, me, *profile);
    node_count = a.node_count;
    chosen = a.chosen;
    reasons = a.reasons;
    prefilter_error = a.prefilter_error;
    queue_block = a.queue_block;
    refused_by_pods = a.refused_by_pods;
    waiting_for_victims = a.waiting_for_victims;
    attempt = a;
    if (!chosen.empty()) {
      PlaceLocked(key, chosen, me);
      pod_index_.Put(key, chosen, pod);
      assumed_[key] = placed_.at(key);
      // Its room now counts as placed: holding it as a nomination too would count it twice and
      // keep out the next pod nominated to the node (nothing wakes that one when the binding
      // lands). Bound elsewhere, the room it held is free: the node's other nominees are woken.
      DenominateLocked(key, chosen);
      wake_waiting_on_pods = !waiting_on_pods_.empty();
    } else if (!waiting_for_victims && prefilter_error.empty() && queue_block.empty()) {
      plan = PlanPreemptionLocked(key, *pod, me, a.resolvable, a.refused_by_rules, why_not);
      if (plan) {
        NominateLocked(key, plan->node, me);
        for (const std::string& other : plan->denominate) DenominateLocked(other);
        for (const RunningPod& v : plan->victims) {
          evicting_.insert(v.key);
          nominated_.AddVictim(key, v.key);
        }
      }
    }
    if (node_count > 0) next_start_ = (next_start_ + 1) % node_count;
    room_would_help = !a.resolvable.empty() || !queue_block.empty();  // its queue's pods leaving make room too
  }
  if (waiting_for_victims) {
    // Say why it waits (once: the message does not change while it does), keep the reasons
    // the last full attempt found.
    const json::Value* cond = FindCondition(*pod, kPodScheduled);
    std::string message = cond ? cond->GetString({"message"}) : "";
    if (size_t cut = message.find(" preemption: "); cut != std::string::npos) message.resize(cut);
    if (message.empty()) message = NoNodesAvailableMessage(node_count, {});
    message += " preemption: not eligible due to a terminating pod on the nominated node.";
    if (absl::Status s = WriteScheduledCondition(*pod, "Unschedulable", message); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(mu_);
    unschedulable_.insert(key);
    return Result{absl::Minutes(5)};  // safety net: the victims' departure wakes it first
  }
  if (chosen.empty()) {
    std::string message = NoNodesAvailableMessage(node_count, reasons);
    std::string reason = "Unschedulable";
    if (!prefilter_error.empty()) {
      reason = "SchedulerError";  // as upstream names a plugin's error (not a refusal)
      message = StrCat("running PreFilter plugin: ", prefilter_error);
    } else if (!queue_block.empty()) {
      message = queue_block + ".";
    }
    if (!plan && !why_not.empty()) message += " " + why_not;
    if (!plan) {
      if (absl::Status s = WriteScheduledCondition(*pod, reason, message); !s.ok()) return s;
    } else if (auto done = PublishAndCarryOut(key, *pod, *plan, reason, message, dequeued)) {
      return *std::move(done);
    }
    if (events_) events_->Record(*pod, "Warning", "FailedScheduling", message, profile->scheduler_name);
    MaybeWriteWhyPending(key, *pod, attempt, why_not);
    bool moved;
    {
      std::lock_guard<std::mutex> lock(mu_);
      moved = move_requests_ != moves_seen;
      if (!moved) {
        unschedulable_.insert(key);
        // Upstream's queueing hint: a pod refused by every node for other reasons (cordoned,
        // tainted, not selected) waits for node changes, not for pods to leave.
        if (!nominated_.Contains(key) && room_would_help) {
          waiting_unnominated_.insert(key);
          if (preemption_.fair_share) {
            std::lock_guard<std::mutex> share(share_mu_);
            waiting_by_queue_[QueueOfNamespaceLocked(request.ns)].insert(key);
          }
        }
        // Refused by inter-pod rules somewhere: pods arriving, leaving or relabelled may help.
        if (refused_by_pods) waiting_on_pods_.insert(key);
      }
      ++attempts_[key];
    }
    if (moved) controller_.Enqueue(key);  // queued again once this attempt is done
    // Also retry on a timer, in case the change that frees room is not one we watch: after 5
    // minutes, upstream's podMaxInUnschedulablePodsDuration. Every change that frees room, node
    // change and Queue change wakes waiting pods already; a shorter timer only retried, every
    // few seconds across a large backlog, attempts that nothing had changed for (B2's 95,000
    // pending pods: 3,000 futile scans and status writes a second against the pods that could
    // bind).
    return Result{absl::Minutes(5)};
  }
  absl::Status s = api_.Bind(request.ns, request.name, chosen);
  if (!s.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      assumed_.erase(key);
      UnplaceLocked(key);
    }
    // The room it had assumed is free again for the pods that wait for room there.
    RetryAfterPodChange(chosen, true);
    if (s.code() == absl::StatusCode::kNotFound) return Result{};
    if (s.code() == absl::StatusCode::kAborted) return Result{};  // bound by someone else meanwhile
    return s;
  }
  bound_++;
  if (wake_waiting_on_pods) RetryAfterPodChange(chosen, false);
  if (preemption_.fair_share) {
    std::vector<std::string> woken;
    {
      std::lock_guard<std::mutex> lock(mu_);
      woken = WakeBelowShareLocked(key);
    }
    controller_.queue().AddAll(woken);
  }
  // A bound pod is no longer pending: its explanation goes.
  {
    std::lock_guard<std::mutex> lock(mu_);
    why_written_.erase(key);
  }
  if (pod->Get({"metadata", "annotations", kWhyPendingAnnotation}) != nullptr) {
    json::Value patch = json::Value::MakeObject();
    patch.Ensure({"metadata", "annotations"}).Set(kWhyPendingAnnotation, json::Value());
    auto cleared = api_.Patch(client::resources::kPods, request.ns, request.name, patch);
    if (!cleared.ok() && !Ignorable(cleared.status())) {
      BERTH_LOG(Warning, "controllers.scheduler", "Clearing why-pending failed", "pod", key, "error", cleared.status().ToString());
    }
  }
  if (events_) {
    events_->Record(*pod, "Normal", "Scheduled", StrCat("Successfully assigned ", key, " to ", chosen), profile->scheduler_name);
  }
  return Result{};
}

}  // namespace berth::controllers::builtin
