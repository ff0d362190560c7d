#include "controllers/builtin/nodelifecycle/node_lifecycle_controller.h"

#include "controllers/builtin/common/pods.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

constexpr char kUnreachable[] = "node.kubernetes.io/unreachable";

bool HasUnreachableTaint(const json::Value& node) {
  const json::Value* taints = node.Get({"spec", "taints"});
  if (taints == nullptr || !taints->is_array()) return false;
  for (const json::Value& t : taints->as_array()) {
    if (t.GetString({"key"}) == kUnreachable) return true;
  }
  return false;
}

json::Value TaintsWithout(const json::Value& node) {
  json::Value out = json::Value::MakeArray();
  if (const json::Value* taints = node.Get({"spec", "taints"}); taints && taints->is_array()) {
    for (const json::Value& t : taints->as_array()) {
      if (t.GetString({"key"}) != kUnreachable) out.as_array().push_back(t);
    }
  }
  return out;
}

}  // namespace

NodeLifecycleController::NodeLifecycleController(client::ApiClient& api, Informer& nodes, Informer& leases,
                                                 Informer& pods, NodeLifecycleOptions options, const Clock& clock)
    : api_(api), nodes_(nodes), leases_(leases), pods_(pods), options_(options), clock_(clock),
      controller_("node-lifecycle", *this, clock, 1) {
  nodes_.AddHandlers({[this](const ObjectPtr& n) { controller_.Enqueue(Informer::KeyOf(*n)); }, nullptr,
                      [this](const ObjectPtr& n) {
                        std::lock_guard<std::mutex> lock(mu_);
                        health_.erase(n->GetString({"metadata", "name"}));
                      }});
}

absl::StatusOr<Result> NodeLifecycleController::Reconcile(const Request& request, std::stop_token) {
  const std::string name = request.name;
  ObjectPtr node = nodes_.Get(name);
  if (node == nullptr) return Result{};
  ObjectPtr lease = leases_.Get("kube-node-lease/" + name);
  const json::Value* ready = FindCondition(*node, "Ready");
  std::string heartbeat = (lease ? lease->GetString({"spec", "renewTime"}) : "") + "|" +
                          (ready ? ready->GetString({"lastHeartbeatTime"}) + ready->GetString({"status"}) : "");
  auto now = clock_.MonotonicNow();
  bool stale;
  bool evict = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = health_.try_emplace(name);
    Health& h = it->second;
    if (inserted || h.heartbeat != heartbeat) {
      // The Ready=Unknown we write ourselves is not a heartbeat.
      bool ours = ready && ready->GetString({"status"}) == "Unknown" && !inserted;
      if (!ours) {
        h.heartbeat = heartbeat;
        h.seen_at = now;
      }
    }
    stale = now - h.seen_at > absl::ToChronoNanoseconds(options_.grace);
    if (stale && h.unreachable_since == std::chrono::steady_clock::time_point{}) h.unreachable_since = now;
    if (!stale) h.unreachable_since = {};
    evict = stale && now - h.unreachable_since > absl::ToChronoNanoseconds(options_.eviction_timeout);
  }

  if (stale) {
    if (!ready || ready->GetString({"status"}) != "Unknown") {
      json::Value next = *node;
      SetCondition(next, "Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", clock_.Now());
      if (json::Value* c = const_cast<json::Value*>(FindCondition(next, "Ready"))) c->Erase("lastUpdateTime");
      auto r = api_.UpdateStatus(client::resources::kNodes, next);
      if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound && r.status().code() != absl::StatusCode::kAborted) {
        return r.status();
      }
      BERTH_LOG(Warning, "controllers.nodelifecycle", "Node stopped heartbeating", "node", name);
    }
    if (!HasUnreachableTaint(*node)) {
      json::Value taints = TaintsWithout(*node);
      for (const char* effect : {"NoSchedule", "NoExecute"}) {
        json::Value t = json::Value::MakeObject();
        t.Set("key", kUnreachable);
        t.Set("effect", effect);
        t.Set("timeAdded", FormatRfc3339(clock_.Now()));
        taints.as_array().push_back(std::move(t));
      }
      json::Value patch = json::Value::MakeObject();
      patch.Ensure({"spec"}).Set("taints", std::move(taints));
      auto r = api_.Patch(client::resources::kNodes, "", name, patch);
      if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
    }
    if (evict) {
      for (const ObjectPtr& pod : pods_.ByIndex("nodeName", name)) {
        if (pod->Get({"metadata", "deletionTimestamp"})) continue;
        json::Value opts = json::Value::MakeObject();
        opts.Ensure({"preconditions"}).Set("uid", pod->GetString({"metadata", "uid"}));
        absl::Status s = api_.Delete(client::resources::kPods, pod->GetString({"metadata", "namespace"}),
                                     pod->GetString({"metadata", "name"}), opts);
        if (!s.ok() && s.code() != absl::StatusCode::kNotFound && s.code() != absl::StatusCode::kAborted) return s;
        BERTH_LOG(Info, "controllers.nodelifecycle", "Evicted pod from unreachable node", "node", name, "pod",
                  Informer::KeyOf(*pod));
      }
    }
  } else if (HasUnreachableTaint(*node) && ready && ready->GetString({"status"}) == "True") {
    json::Value patch = json::Value::MakeObject();
    patch.Ensure({"spec"}).Set("taints", TaintsWithout(*node));
    auto r = api_.Patch(client::resources::kNodes, "", name, patch);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
    BERTH_LOG(Info, "controllers.nodelifecycle", "Node is heartbeating again", "node", name);
  }
  return Result{options_.monitor_period};
}

}  // namespace berth::controllers::builtin
