// File: controllers/builtin/scheduler/scheduler_preemption.cc
// The Scheduler's preemption: choosing victims under its lock (priority, then a queue's reclaim
// of its guarantee or, opt-in, its fair share) with the pure functions of preemption.h and
// queue_preemption.h, and carrying the plan out.
#include "controllers/builtin/scheduler/scheduler.h"
#include "controllers/builtin/scheduler/scheduler_internal.h"
#include "controllers/builtin/scheduler/queue_preemption.h"

#include <algorithm>
#include <functional>
#include <future>
#include <limits>

#include "controllers/builtin/common/pods.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/resource/pod_resources.h"
#include "core/selector/label_selector.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

using scheduler_internal::Ignorable;
using scheduler_internal::kSystemPriorityFloor;
using scheduler_internal::PriorityOf;
using scheduler_internal::SetScheduledCondition;

std::optional<Scheduler::PreemptionPlan> Scheduler::PlanPreemptionLocked(const std::string& key, const json::Value& pod,
                                                                         const RunningPod& me,
                                                                         const std::vector<size_t>& resolvable,
                                                                         const std::vector<size_t>& refused_by_rules,
                                                                         std::string& why_not) {
  if (pod.GetString({"spec", "preemptionPolicy"}) == "Never") {
    why_not = "preemption: not eligible due to preemptionPolicy=Never.";
    return std::nullopt;
  }
  // Victims chosen earlier are still leaving: wait for them rather than evict more.
  // (A nomination this scheduler made knows its victims, which a queue's preemption may take at
  // the pod's own priority or above; one only seen in status falls back to lower priorities.)
  std::string published = pod.GetString({"status", "nominatedNodeName"});
  if (nominated_.Contains(key) ? OwnVictimsLeavingLocked(key)
                               : !published.empty() && VictimsLeavingLocked(published, me.priority)) {
    why_not = "preemption: not eligible due to a terminating pod on the nominated node.";
    return std::nullopt;
  }
  // Budgets as they stand: which allow how many more disruptions, and whom they count.
  struct Budget {
    std::string ns;
    selector::LabelSelector selector;
    const json::Value* disrupted;  // status.disruptedPods: evictions already granted
    ObjectPtr object;
  };
  std::vector<Budget> budgets;
  std::vector<int64_t> budget_allowed;
  if (budgets_ != nullptr) {
    for (const ObjectPtr& pdb : budgets_->List()) {
      const json::Value* sel = pdb->Get({"spec", "selector"});
      if (sel == nullptr || !sel->is_object()) continue;
      auto parsed = selector::LabelSelector::FromObject(*sel);
      if (!parsed.ok()) continue;
      budgets.push_back({pdb->GetString({"metadata", "namespace"}), *std::move(parsed), pdb->Get({"status", "disruptedPods"}), pdb});
      const json::Value* allowed = pdb->Get({"status", "disruptionsAllowed"});
      budget_allowed.push_back(allowed && allowed->is_int() ? allowed->as_int() : 0);
    }
  }
  auto budgets_of = [&](const std::string& pod_key) {
    std::vector<size_t> out;
    if (budgets.empty()) return out;
    ObjectPtr obj = pods_.Get(pod_key);
    if (obj == nullptr) return out;
    std::string ns = obj->GetString({"metadata", "namespace"});
    std::string name = obj->GetString({"metadata", "name"});
    const json::Value* labels = obj->Get({"metadata", "labels"});
    static const json::Value kNoLabels = json::Value::MakeObject();
    for (size_t i = 0; i < budgets.size(); ++i) {
      if (budgets[i].ns != ns || !budgets[i].selector.Matches(labels ? *labels : kNoLabels)) continue;
      if (budgets[i].disrupted && budgets[i].disrupted->Find(name)) continue;  // already counted as gone
      out.push_back(i);
    }
    return out;
  };
  // Which priorities this pod may evict: below its own by the configured gap, and below the
  // protected band when it is in it.
  int64_t victims_below = me.priority - preemption_.min_priority_gap + 1;
  if (preemption_.protected_band && me.priority >= *preemption_.protected_band) {
    victims_below = std::min(victims_below, *preemption_.protected_band);
  }
  bool strict_budgets = false;
  if (classes_ != nullptr) {
    if (ObjectPtr pc = classes_->Get(pod.GetString({"spec", "priorityClassName"}))) {
      strict_budgets = pc->GetString({"metadata", "annotations", kStrictBudgetAnnotation}) == "Strict";
    }
  }
  std::map<std::string, int> strict_refusals;
  size_t node_count = nodes_cache_.size();
  size_t want = CandidatesToFind(node_count);
  std::vector<Candidate> candidates;
  int no_victims = 0;
  size_t evaluated = 0;
  // One pass over the nodes that failed for room: `eligible` says which pods may be victims,
  // `acceptable` may still refuse a node's victims as a whole.
  using Eligible = std::function<bool(const std::string& key, const Placement& p)>;
  NodeUsage held;                                                  // scratch: usage plus nominations
  std::vector<std::pair<const std::string*, const Placement*>> goers;  // scratch: a node's eligible pods
  auto search = [&](const Eligible& eligible, const std::function<bool(const Victims&)>& acceptable) {
    // Start where the last scan stopped, so repeated preemptions do not all pick the first nodes.
    size_t offset = resolvable.empty() ? 0 : next_start_ % resolvable.size();
    for (size_t i = 0; i < resolvable.size() && candidates.size() < want; ++i) {
      const NodeInfo& n = nodes_cache_[resolvable[(offset + i) % resolvable.size()]];
      ++evaluated;
      // Most nodes a long preemption run visits are hopeless (their victims are already chosen or
      // above this pod), so that is judged first, on the numbers alone: nothing is copied, and
      // each pod on the node is looked up once.
      const NodeUsage* placed_usage = n.usage;
      const NodeUsage* usage = placed_usage;
      if (nominated_.OnNode(n.name) != nullptr) {
        held = *placed_usage;
        if (AddHeldLocked(n.name, key, me.priority, held)) usage = &held;
      }
      auto keys = keys_on_node_.find(n.name);
      goers.clear();
      // Cheap bound first: even evicting every eligible pod must free enough cpu, memory and pod
      // slots, else the node is skipped before any pod is copied or its budgets looked up.
      int64_t cpu = usage->cpu, memory = usage->memory, count = usage->pods;
      if (keys != keys_on_node_.end()) {
        for (const std::string& other : keys->second) {
          const Placement& p = placed_.at(other);
          if (p.terminating || other == key || evicting_.contains(other) || !eligible(other, p)) continue;
          cpu -= p.pod.requests.cpu_milli, memory -= p.pod.requests.memory_milli, count -= 1000;
          goers.emplace_back(&other, &p);
        }
      }
      bool hopeless = (me.requests.cpu_milli > 0 && cpu + me.requests.cpu_milli > n.allocatable.cpu) ||
                      (me.requests.memory_milli > 0 && memory + me.requests.memory_milli > n.allocatable.memory) ||
                      (n.allocatable.pods > 0 && count + 1000 > n.allocatable.pods);
      if (hopeless) {
        ++no_victims;
        continue;
      }
      NodeForPreemption node{n.name, n.allocatable, *usage, {}};
      for (const auto& [other, p] : goers) {
        node.pods.push_back(p->pod);
        node.pods.back().budgets = budgets_of(*other);
      }
      // Only eligible pods are offered, so every one of them may be a victim.
      std::optional<Victims> v = SelectVictimsOnNode(me.requests, std::numeric_limits<int64_t>::max(), node, budget_allowed);
      if (v && strict_budgets && !v->violated_budgets.empty()) {
        const json::Value& pdb = *budgets[v->violated_budgets.front()].object;
        strict_refusals[StrCat("would violate PodDisruptionBudget ", pdb.GetString({"metadata", "namespace"}), "/",
                               pdb.GetString({"metadata", "name"}))]++;
      } else if (v && !v->pods.empty() && acceptable(*v)) {
        candidates.push_back({n.name, std::move(*v)});
      } else {
        ++no_victims;
      }
    }
  };
  // Nothing placed below the priorities it may evict (the common case for priority-0 pods):
  // every node that failed for room has no victims, without looking at one.
  if (placed_by_priority_.empty() || placed_by_priority_.begin()->first >= victims_below) {
    no_victims += static_cast<int>(resolvable.size());
    evaluated += resolvable.size();
  } else {
    search([&](const std::string&, const Placement& p) { return p.pod.priority < victims_below; },
           [](const Victims&) { return true; });
  }
  PreemptionReason reason = PreemptionReason::kPriority;
  if (candidates.empty()) {
    // For a queue's sake (queue_preemption.h): a queue within its guarantee reclaims it, at any
    // priority below the system classes; with --fair-share-preemption, a queue below another's
    // share takes from it, at its own priority or below.
    std::lock_guard<std::mutex> share(share_mu_);
    std::string mine = QueueOfNamespaceLocked(Request::FromKey(key).ns);
    ResourceMilli asked = FairShare::VectorOf(me.requests);
    // Pods already leaving no longer count; gathered only for a pod one of the rules may serve
    // (a long priority preemption run has thousands leaving).
    std::optional<std::map<std::string, ResourceMilli>> leaving_memo;
    auto leaving = [&]() -> const std::map<std::string, ResourceMilli>& {
      if (leaving_memo) return *leaving_memo;
      auto& out = leaving_memo.emplace();
      auto add = [&](const std::string& k) {
        auto p = placed_.find(k);
        if (p == placed_.end()) return;
        for (const auto& [r, m] : p->second.share) out[p->second.queue][r] += m;
      };
      for (const std::string& k : evicting_) add(k);
      for (const std::string& k : terminating_) {
        if (!evicting_.contains(k)) add(k);
      }
      return out;
    };
    auto queue_pass = [&](QueueVictimRule& rule, int64_t priority_below) {
      // The reasons stay those of the priority pass unless this one finds victims.
      int no_victims_before = no_victims;
      size_t evaluated_before = evaluated;
      auto refusals_before = strict_refusals;
      search(
          [&](const std::string&, const Placement& p) {
            return p.pod.priority < priority_below && rule.MayTake(p.queue, p.share);
          },
          [&](const Victims& v) {
            std::map<std::string, ResourceMilli> taken;
            for (const RunningPod& victim : v.pods) {
              const Placement& p = placed_.at(victim.key);
              for (const auto& [r, m] : p.share) taken[p.queue][r] += m;
            }
            return rule.MayTakeAll(taken);
          });
      if (candidates.empty()) no_victims = no_victims_before, evaluated = evaluated_before, strict_refusals = refusals_before;
      return !candidates.empty();
    };
    const QueueSpec* spec = fair_share_.Spec(mine);
    if (auto rule = spec && !spec->guaranteed.empty() ? QueueVictimRule::Reclaim(fair_share_, mine, asked, leaving())
                                                      : std::nullopt;
        rule && queue_pass(*rule, kSystemPriorityFloor)) {
      reason = PreemptionReason::kReclaim;
    } else if (preemption_.fair_share) {
      // A search that found nothing for this queue, shape and priority is not repeated until
      // placements, nominations or nodes change.
      auto shape = std::make_tuple(mine, asked, me.priority);
      auto futile = fair_share_futile_.find(shape);
      if (futile == fair_share_futile_.end() || futile->second != cluster_changes_) {
        ResourceMilli pending_mine;  // its queue's pods already preempted for count as its own
        for (const auto& [other, nom] : nominated_.All()) {
          if (other == key || QueueOfNamespaceLocked(Request::FromKey(other).ns) != mine) continue;
          for (const auto& [r, m] : FairShare::VectorOf(nom.pod.requests)) pending_mine[r] += m;
        }
        // At its own priority or below; the protected band's pods never preempt each other.
        int64_t fair_below = std::min(me.priority + 1, kSystemPriorityFloor);
        if (preemption_.protected_band && me.priority >= *preemption_.protected_band) {
          fair_below = std::min(fair_below, *preemption_.protected_band);
        }
        auto fair = QueueVictimRule::Fairness(fair_share_, mine, asked, pending_mine, leaving());
        if (fair && queue_pass(*fair, fair_below)) {
          reason = PreemptionReason::kFairShare;
        } else {
          if (fair_share_futile_.size() > 10000) fair_share_futile_.clear();
          fair_share_futile_[std::move(shape)] = cluster_changes_;
        }
      }
    }
  }
  if (candidates.empty()) {
    // Nodes inter-pod rules refused: with no pod preemption could take, upstream finds no
    // victims there either; with some, Berth cannot yet tell whether removing them would help.
    for (size_t index : refused_by_rules) {
      auto keys = keys_on_node_.find(nodes_cache_[index].name);
      bool any_lower = false;
      if (keys != keys_on_node_.end()) {
        for (const std::string& other : keys->second) {
          const Placement& p = placed_.at(other);
          any_lower = any_lower || (!p.terminating && !evicting_.count(other) && p.pod.priority < victims_below);
        }
      }
      if (!any_lower) ++no_victims, ++evaluated;
    }
    std::map<std::string, int> reasons = strict_refusals;
    if (no_victims > 0) reasons["No preemption victims found for incoming pod"] = no_victims;
    if (int unhelpful = static_cast<int>(node_count - evaluated); unhelpful > 0) {
      reasons["Preemption is not helpful for scheduling"] = unhelpful;
    }
    why_not = "preemption: " + NoNodesAvailableMessage(node_count, reasons);
    return std::nullopt;
  }
  Candidate& best = candidates[PickCandidate(candidates)];
  PreemptionPlan plan{best.node, std::move(best.victims.pods), {}, reason};
  if (const std::set<std::string>* held = nominated_.OnNode(plan.node)) {
    for (const std::string& other : *held) {
      if (other != key && nominated_.Find(other)->pod.priority < me.priority) plan.denominate.push_back(other);
    }
  }
  return plan;
}

const std::vector<double>& PreemptionDecisionBounds() {
  static const std::vector<double> bounds = {0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03,
                                             0.04,  0.05,   0.075, 0.1,  0.25,  0.5,  1,     2.5};
  return bounds;
}

void Scheduler::RenderMetrics(std::string& out) const {
  StrAppend(&out, "# HELP scheduler_preemption_attempts_total Preemptions the scheduler carried out.\n",
            "# TYPE scheduler_preemption_attempts_total counter\nscheduler_preemption_attempts_total ",
            preemption_attempts_.load(), "\n");
  StrAppend(&out, "# HELP berth_scheduler_preempted_pods_total Pods deleted as preemption victims.\n",
            "# TYPE berth_scheduler_preempted_pods_total counter\nberth_scheduler_preempted_pods_total ",
            preempted_.load(), "\n");
  StrAppend(&out, "# HELP berth_scheduler_nominees_swept_total Nominated pods found fitting their node by the ",
            "once-a-second sweep, not by an event (each a missed wake-up).\n",
            "# TYPE berth_scheduler_nominees_swept_total counter\nberth_scheduler_nominees_swept_total ",
            nominees_swept_.load(), "\n");
  StrAppend(&out, "# HELP berth_scheduler_condition_conflicts_total PodScheduled condition writes refused for a ",
            "stale cached copy and written again on a fresh read.\n",
            "# TYPE berth_scheduler_condition_conflicts_total counter\nberth_scheduler_condition_conflicts_total ",
            conflicts_reread_.load(), "\n");
  StrAppend(&out, "# HELP berth_scheduler_preemption_decision_seconds From the preemptor's dequeue to its ",
            "nominatedNodeName written (before its victims are marked and deleted).\n",
            "# TYPE berth_scheduler_preemption_decision_seconds histogram\n");
  preemption_decision_.Render(out, "berth_scheduler_preemption_decision_seconds", "");
}

absl::Status Scheduler::CarryOut(const json::Value& pod, const PreemptionPlan& plan) {
  std::string scheduler_name = pod.GetString({"spec", "schedulerName"}, "default-scheduler");
  std::string uid = pod.GetString({"metadata", "uid"});
  // Status writes race the agent's own: retry a conflict on a fresh copy, a few times.
  auto update_status = [&](const std::string& key, const std::function<bool(json::Value&)>& mutate) -> absl::Status {
    Request r = Request::FromKey(key);
    ObjectPtr cached = pods_.Get(key);
    for (int attempt = 0; attempt < 4; ++attempt) {
      json::Value current;
      if (attempt == 0 && cached != nullptr) {
        current = *cached;
      } else {
        auto fresh = api_.Get(client::resources::kPods, r.ns, r.name);
        if (!fresh.ok()) return fresh.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : fresh.status();
        current = std::move(*fresh);
      }
      if (!mutate(current)) return absl::OkStatus();
      auto written = api_.UpdateStatus(client::resources::kPods, current);
      if (written.ok() || written.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
      if (written.status().code() != absl::StatusCode::kAborted) return written.status();
    }
    return absl::AbortedError(StrCat("status of ", key, " kept changing"));
  };
  auto preempt = [&](const RunningPod& victim) -> absl::Status {
    // Kubernetes' DisruptionTarget condition tells the workload why it is going.
    BERTH_RETURN_IF_ERROR(update_status(victim.key, [&](json::Value& v) {
      const char* why = plan.reason == PreemptionReason::kReclaim     ? ": preempting to give a queue back its guaranteed share"
                        : plan.reason == PreemptionReason::kFairShare ? ": preempting to bring a queue up to its fair share"
                                                                      : ": preempting to accommodate a higher priority pod";
      return SetCondition(v, "DisruptionTarget", "True", "PreemptionByScheduler", scheduler_name + why, clock_.Now());
    }));
    Request r = Request::FromKey(victim.key);
    ObjectPtr cached = pods_.Get(victim.key);
    absl::Status deleted = api_.Delete(client::resources::kPods, r.ns, r.name);  // with its own grace period
    if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) return deleted;
    ++preempted_;
    if (events_ && cached) {
      events_->Record(*cached, "Normal", "Preempted", StrCat("Preempted by pod ", uid, " on node ", plan.node), scheduler_name);
    }
    return absl::OkStatus();
  };
  // Victims in parallel, as upstream's prepareCandidate does: each is two synced writes, one
  // after another only within a victim.
  std::vector<std::future<absl::Status>> others;
  for (size_t i = 1; i < plan.victims.size(); ++i) {
    others.push_back(std::async(std::launch::async, preempt, std::cref(plan.victims[i])));
  }
  absl::Status first = plan.victims.empty() ? absl::OkStatus() : preempt(plan.victims[0]);
  for (auto& f : others) {
    absl::Status s = f.get();
    if (first.ok()) first = s;
  }
  BERTH_RETURN_IF_ERROR(first);
  for (const std::string& other : plan.denominate) {
    BERTH_RETURN_IF_ERROR(update_status(other, [](json::Value& v) {
      json::Value* status = v.Find("status");
      return status && status->Erase("nominatedNodeName");
    }));
  }
  ++preemption_attempts_;
  return absl::OkStatus();
}

std::optional<absl::StatusOr<Result>> Scheduler::PublishAndCarryOut(const std::string& key, const json::Value& pod,
                                                                    const PreemptionPlan& plan,
                                                                    const std::string& reason,
                                                                    const std::string& message,
                                                                    std::chrono::steady_clock::time_point dequeued) {
  json::Value published = pod;
  bool changed = SetScheduledCondition(published, reason, message, clock_.Now());
  if (published.GetString({"status", "nominatedNodeName"}) != plan.node) {
    published.Ensure({"status"}).Set("nominatedNodeName", plan.node);
    changed = true;
  }
  auto forget_plan = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    DenominateLocked(key);
    for (const RunningPod& v : plan.victims) evicting_.erase(v.key);
  };
  if (changed) {
    auto r = api_.UpdateStatus(client::resources::kPods, published);
    if (!r.ok()) {
      // No nomination was published: no victims go for it. A pod that is gone needs nothing;
      // one whose cached copy was stale (often by this scheduler's own last write, whose
      // status-only event does not queue it) is tried again on a fresh copy.
      forget_plan();
      if (!Ignorable(r.status())) return absl::StatusOr<Result>(r.status());
      if (r.status().code() != absl::StatusCode::kNotFound) controller_.Enqueue(key);
      return absl::StatusOr<Result>(Result{});
    }
    published = *std::move(r);  // with the version the write gave it
  }
  // The nomination is the decision, published before the victims go, as upstream's
  // asynchronous preemption does: their status writes and deletions (in parallel) take
  // several synced writes that the preemptor's own record need not wait for. Its room is
  // held in memory from the plan on, so no other pod takes it meanwhile.
  preemption_decision_.Observe(std::chrono::duration<double>(clock_.MonotonicNow() - dequeued).count());
  if (absl::Status s = CarryOut(pod, plan); !s.ok()) {
    forget_plan();
    // The published nomination holds nothing now: take it back (the retry writes a new one).
    if (json::Value* status = published.Find("status"); status && status->Erase("nominatedNodeName")) {
      auto r = api_.UpdateStatus(client::resources::kPods, published);
      if (!r.ok() && !Ignorable(r.status())) {
        BERTH_LOG(Warning, "controllers.scheduler", "Clearing a failed nomination failed", "pod", key, "error",
                  r.status().ToString());
      }
    }
    return absl::StatusOr<Result>(s);
  }
  return std::nullopt;
}

}  // namespace berth::controllers::builtin
