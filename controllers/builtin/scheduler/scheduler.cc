#include "controllers/builtin/scheduler/scheduler.h"

#include <algorithm>
#include <functional>

#include "controllers/builtin/common/pods.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

Scheduler::Scheduler(client::ApiClient& api, Informer& pods, Informer& nodes, const Clock& clock, int workers,
                     absl::Duration usage_resync)
    : api_(api), pods_(pods), nodes_(nodes), clock_(clock), controller_("scheduler", *this, clock, workers) {
  // Kubernetes' PrioritySort: higher spec.priority first, then older pods first. With several
  // workers the order is that of the dequeues; decisions still serialize on mu_.
  controller_.queue().SetRanking([this](const std::string& key) { return RankOf(key); });
  if (usage_resync > absl::ZeroDuration()) {
    resync_ = std::make_unique<Periodic>(usage_resync, [this] {
      if (size_t fixed = ResyncUsage(); fixed > 0) {
        BERTH_LOG(Warning, "controllers.scheduler", "Per-node usage had drifted from the pod cache; corrected", "nodes", fixed);
      }
    });
  }
  pods_.AddHandlers({
      [this](const ObjectPtr& p) { OnPodChanged(p, false); },
      [this](const ObjectPtr&, const ObjectPtr& p) { OnPodChanged(p, false); },
      [this](const ObjectPtr& p) { OnPodChanged(p, true); },
  });
  auto nodes_changed = [this] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      nodes_dirty_ = true;
    }
    RetryUnschedulable();
  };
  nodes_.AddHandlers({
      [nodes_changed](const ObjectPtr&) { nodes_changed(); },
      [nodes_changed](const ObjectPtr&, const ObjectPtr&) { nodes_changed(); },
      [nodes_changed](const ObjectPtr&) { nodes_changed(); },
  });
}

WorkQueue::Rank Scheduler::RankOf(const std::string& key) const {
  ObjectPtr pod = pods_.Get(key);
  if (pod == nullptr) return {};
  const json::Value* priority = pod->Get({"spec", "priority"});
  int64_t p = priority && priority->is_int() ? priority->as_int() : 0;
  absl::Time created = ParseRfc3339(pod->GetString({"metadata", "creationTimestamp"}), absl::UnixEpoch());
  return {-p, absl::ToUnixMicros(created), 0};
}

bool Scheduler::Ours(const json::Value& pod) {
  std::string name = pod.GetString({"spec", "schedulerName"});
  return (name.empty() || name == "default-scheduler") && pod.GetString({"spec", "nodeName"}).empty() &&
         pod.Get({"metadata", "deletionTimestamp"}) == nullptr;
}

void Scheduler::PlaceLocked(const std::string& key, const std::string& node, const PodRequests& req) {
  UnplaceLocked(key);
  usage_[node].Add(req);
  placed_[key] = {node, req};
}

void Scheduler::UnplaceLocked(const std::string& key) {
  auto it = placed_.find(key);
  if (it == placed_.end()) return;
  usage_[it->second.node].Remove(it->second.requests);
  placed_.erase(it);
}

void Scheduler::OnPodChanged(const ObjectPtr& p, bool deleted) {
  std::string key = Informer::KeyOf(*p);
  std::string node = p->GetString({"spec", "nodeName"});
  std::string phase = p->GetString({"status", "phase"});
  bool counts = !deleted && !node.empty() && phase != "Succeeded" && phase != "Failed";
  bool freed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (counts) {
      assumed_.erase(key);  // the binding is in the cache now
      auto it = placed_.find(key);
      if (it == placed_.end() || it->second.node != node) PlaceLocked(key, node, RequestsOf(*p));
    } else if (!assumed_.count(key)) {
      freed = placed_.count(key) > 0;
      UnplaceLocked(key);
    }
  }
  if (freed) RetryUnschedulable();  // its resources are free again
  if (!deleted && Ours(*p)) controller_.Enqueue(key);
}

size_t Scheduler::ResyncUsage() {
  std::lock_guard<std::mutex> lock(mu_);
  // Listing under mu_: a cache change whose handler has not run yet is seen here, and that
  // handler finds it already counted (handlers are idempotent).
  std::map<std::string, Placement> placed;
  std::map<std::string, NodeUsage> usage;
  auto place = [&](const std::string& key, const std::string& node, const PodRequests& req) {
    usage[node].Add(req);
    placed[key] = {node, req};
  };
  for (const ObjectPtr& p : pods_.List()) {
    std::string node = p->GetString({"spec", "nodeName"});
    std::string phase = p->GetString({"status", "phase"});
    if (!node.empty() && phase != "Succeeded" && phase != "Failed") place(Informer::KeyOf(*p), node, RequestsOf(*p));
  }
  for (const auto& [key, a] : assumed_) {
    if (!placed.count(key)) place(key, a.node, a.requests);
  }
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
  usage_ = std::move(usage);
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

void Scheduler::RetryUnschedulable() {
  std::set<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.swap(unschedulable_);
  }
  for (const auto& k : keys) controller_.Enqueue(k);
}

absl::StatusOr<Result> Scheduler::Reconcile(const Request& request, std::stop_token) {
  std::string key = request.Key();
  ObjectPtr pod = pods_.Get(key);
  if (pod == nullptr || !Ours(*pod)) return Result{};
  if (const json::Value* gates = pod->Get({"spec", "schedulingGates"}); gates && gates->size() > 0) {
    // Held until every gate is removed; the update that removes the last one enqueues it again.
    json::Value updated = *pod;
    if (SetCondition(updated, "PodScheduled", "False", "SchedulingGated",
                     "Scheduling is blocked due to non-empty scheduling gates", clock_.Now())) {
      if (json::Value* c = const_cast<json::Value*>(FindCondition(updated, "PodScheduled"))) c->Erase("lastUpdateTime");
      auto r = api_.UpdateStatus(client::resources::kPods, updated);
      if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound && r.status().code() != absl::StatusCode::kAborted) {
        return r.status();
      }
    }
    return Result{};
  }
  PodRequests req = RequestsOf(*pod);
  std::string chosen;
  std::map<std::string, int> reasons;
  size_t node_count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (assumed_.count(key)) return Result{};  // already being bound
    if (nodes_dirty_) {
      nodes_cache_.clear();
      for (const ObjectPtr& n : nodes_.List()) {
        NodeInfo info;
        info.object = n;
        info.name = n->GetString({"metadata", "name"});
        info.allocatable = NodeAllocatable::Of(*n);
        const json::Value* ready = FindCondition(*n, "Ready");
        info.ready = ready && ready->GetString({"status"}) == "True";
        const json::Value* unsched = n->Get({"spec", "unschedulable"});
        const json::Value* taints = n->Get({"spec", "taints"});
        info.plain = !(unsched && unsched->is_bool() && unsched->as_bool()) && (taints == nullptr || taints->size() == 0);
        nodes_cache_.push_back(std::move(info));
      }
      nodes_dirty_ = false;
    }
    node_count = nodes_cache_.size();
    size_t want = NodesToFind(node_count);
    size_t found = 0;
    double best = -1;
    size_t best_tie = 0;
    static const NodeUsage kEmpty;
    // A pod without placement constraints needs only the cached numbers on plain nodes.
    bool pod_plain = pod->Get({"spec", "nodeSelector"}) == nullptr && pod->Get({"spec", "affinity"}) == nullptr;
    // Scan from a rotating start so that sampling covers every node over time.
    for (size_t i = 0; i < node_count && found < want; ++i) {
      const NodeInfo& n = nodes_cache_[(next_start_ + i) % node_count];
      auto u_it = usage_.find(n.name);
      const NodeUsage& u = u_it == usage_.end() ? kEmpty : u_it->second;
      std::vector<std::string> why;
      if (pod_plain && n.plain) {
        if (!n.ready) {
          why.push_back("node(s) were not ready");
        } else {
          why = ResourceFitReasons(req, n.allocatable, u);
        }
      } else {
        why = FitReasons(*pod, req, *n.object, u);
      }
      if (!why.empty()) {
        for (const std::string& w : why) reasons[w]++;
        continue;
      }
      ++found;
      double s;
      if (pod_plain) {
        double cpu_frac = static_cast<double>(u.cpu + req.cpu_milli) / static_cast<double>(std::max<int64_t>(n.allocatable.cpu, 1));
        double mem_frac = static_cast<double>(u.memory + req.memory_milli) / static_cast<double>(std::max<int64_t>(n.allocatable.memory, 1));
        s = ((1 - cpu_frac) + (1 - mem_frac)) / 2 * 100 + (1 - std::abs(cpu_frac - mem_frac)) * 100;
      } else {
        s = Score(*pod, req, *n.object, u.cpu, u.memory);
      }
      // Spread equal scores: a hash of pod and node breaks ties without a shared counter.
      size_t tie = std::hash<std::string>{}(key + "/" + n.name);
      if (s > best || (s == best && tie > best_tie)) {
        best = s;
        best_tie = tie;
        chosen = n.name;
      }
    }
    if (node_count > 0) next_start_ = (next_start_ + 1) % node_count;
    if (!chosen.empty()) {
      assumed_[key] = {chosen, req};
      PlaceLocked(key, chosen, req);
    }
  }
  if (chosen.empty()) {
    std::string message = NoNodesAvailableMessage(node_count, reasons);
    json::Value updated = *pod;
    if (SetCondition(updated, "PodScheduled", "False", "Unschedulable", message, clock_.Now())) {
      if (json::Value* c = const_cast<json::Value*>(FindCondition(updated, "PodScheduled"))) c->Erase("lastUpdateTime");
      auto r = api_.UpdateStatus(client::resources::kPods, updated);
      if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound && r.status().code() != absl::StatusCode::kAborted) {
        return r.status();
      }
    }
    if (events_) events_->Record(*pod, "Warning", "FailedScheduling", message);
    std::lock_guard<std::mutex> lock(mu_);
    unschedulable_.insert(key);
    // Also retry on a timer, in case the change that frees room is not one we watch.
    return Result{absl::Seconds(30)};
  }
  absl::Status s = api_.Bind(request.ns, request.name, chosen);
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    assumed_.erase(key);
    UnplaceLocked(key);
    if (s.code() == absl::StatusCode::kNotFound) return Result{};
    if (s.code() == absl::StatusCode::kAborted) return Result{};  // bound by someone else meanwhile
    return s;
  }
  bound_++;
  if (events_) {
    events_->Record(*pod, "Normal", "Scheduled", StrCat("Successfully assigned ", key, " to ", chosen));
  }
  return Result{};
}

}  // namespace berth::controllers::builtin
