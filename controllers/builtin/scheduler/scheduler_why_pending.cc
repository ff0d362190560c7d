// File: controllers/builtin/scheduler/scheduler_why_pending.cc
// The Scheduler's "why pending": the facts of a failed attempt, the annotation written from
// them, and the debug page that recomputes them.
#include "controllers/builtin/scheduler/scheduler.h"
#include "controllers/builtin/scheduler/scheduler_internal.h"

#include <algorithm>
#include <functional>
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

PendingFacts Scheduler::FactsLocked(const std::string& key, const json::Value& pod, const RunningPod& me, const Attempt& a,
                                     const std::string& why_not, bool with_position) {
  PendingFacts f;
  f.nodes = a.node_count;
  f.filtered = a.reasons;
  f.preemption_message = why_not;
  if (const Nomination* nom = nominated_.Find(key)) {
    f.nominated = true;
    f.nominated_node = nom->node;
  }
  f.blocked_by = !a.queue_block.empty() ? a.queue_block : a.prefilter_error;
  f.largest_free_node = a.largest_free_node;
  f.largest_free_cpu = a.largest_free_cpu;
  f.largest_free_memory = a.largest_free_memory;
  f.request_cpu = me.requests.cpu_milli;
  f.request_memory = me.requests.memory_milli;
  std::lock_guard<std::mutex> share(share_mu_);
  std::string queue = QueueOfNamespaceLocked(Request::FromKey(key).ns);
  f.queue_path = fair_share_.PathOf(queue);
  f.queue_share = fair_share_.Share(queue);
  // Its place among the waiting pods of its queue, in the work queue's order within a queue.
  int64_t priority = me.priority;
  std::string created = pod.GetString({"metadata", "creationTimestamp"});
  if (!with_position) return f;  // the walk below is for what gets written
  f.queue_waiting = 1;             // itself
  f.queue_position = 1;
  for (const std::string& other : unschedulable_) {
    if (other == key || QueueOfNamespaceLocked(Request::FromKey(other).ns) != queue) continue;
    ++f.queue_waiting;
    ObjectPtr o = pods_.Get(other);
    if (o == nullptr) continue;
    int64_t p = PriorityOf(*o);
    std::string c = o->GetString({"metadata", "creationTimestamp"});
    if (p > priority || (p == priority && (c < created || (c == created && other < key)))) ++f.queue_position;
  }
  return f;
}

void Scheduler::MaybeWriteWhyPending(const std::string& key, const json::Value& pod, const Attempt& a,
                                     const std::string& why_not) {
  RunningPod me = RunningPodOf(key, pod);
  absl::Time now = clock_.Now();
  std::string text;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Without the queue position and count: walking every waiting pod on each failure costs
    // O(waiting) under the lock (the debug page computes them on request).
    text = json::Serialize(WhyPending(FactsLocked(key, pod, me, a, why_not, false)));
    auto it = why_written_.find(key);
    if (it != why_written_.end() && (it->second.text == text || now - it->second.at < absl::Seconds(10))) return;
    why_written_[key] = {text, now};
  }
  if (pod.GetString({"metadata", "annotations", kWhyPendingAnnotation}) == text) return;  // as stored already
  json::Value patch = json::Value::MakeObject();
  patch.Ensure({"metadata", "annotations"}).Set(kWhyPendingAnnotation, text);
  Request r = Request::FromKey(key);
  auto written = api_.Patch(client::resources::kPods, r.ns, r.name, patch);
  if (!written.ok() && !Ignorable(written.status())) {
    BERTH_LOG(Warning, "controllers.scheduler", "Writing why-pending failed", "pod", key, "error", written.status().ToString());
  }
}

absl::StatusOr<json::Value> Scheduler::ExplainPending(const std::string& key) {
  ObjectPtr pod = pods_.Get(key);
  const SchedulerProfile* profile = pod ? ProfileOf(*pod) : nullptr;
  if (profile == nullptr) return absl::NotFoundError(StrCat("no pod ", key, " waits for this scheduler"));
  RunningPod me = RunningPodOf(key, *pod);
  std::lock_guard<std::mutex> lock(mu_);
  if (assumed_.count(key)) return absl::NotFoundError(StrCat(key, " is being bound"));
  RefreshNodesLocked();
  Attempt a = AttemptLocked(key, *pod, me, *profile);
  std::string why_not;
  if (a.chosen.empty() && !a.waiting_for_victims && a.prefilter_error.empty() && a.queue_block.empty()) {
    PlanPreemptionLocked(key, *pod, me, a.resolvable, a.refused_by_rules, why_not);  // nothing carried out
  }
  json::Value out = WhyPending(FactsLocked(key, *pod, me, a, why_not, true));
  if (!a.chosen.empty()) out.Set("wouldBindTo", a.chosen);
  // What the scheduler counts on the node it waits for: the pods, and room held for others.
  if (const Nomination* nom = nominated_.Find(key)) {
    json::Value counted = json::Value::MakeArray();
    if (auto keys = keys_on_node_.find(nom->node); keys != keys_on_node_.end()) {
      for (const std::string& other : keys->second) {
        const Placement& p = placed_.at(other);
        std::string state = assumed_.count(other) ? "assumed" : p.terminating ? "terminating" : evicting_.count(other) ? "evicting" : "bound";
        counted.as_array().push_back(StrCat(other, " ", resource::FormatMilli(p.pod.requests.cpu_milli), " cpu ", state));
      }
    }
    json::Value held = json::Value::MakeArray();
    if (const std::set<std::string>* n = nominated_.OnNode(nom->node)) {
      for (const std::string& other : *n) held.as_array().push_back(other);
    }
    json::Value node = json::Value::MakeObject();
    node.Set("name", nom->node);
    node.Set("counted", std::move(counted));
    node.Set("nominated", std::move(held));
    out.Set("nominatedNode", std::move(node));
  }
  return out;
}

}  // namespace berth::controllers::builtin
