#include "controllers/builtin/disruption/disruption_controller.h"

#include <set>

#include "controllers/builtin/common/pods.h"
#include "core/intstr/int_or_percent.h"
#include "core/selector/label_selector.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

// How long an eviction the API granted waits for the pod to go before it counts again.
constexpr absl::Duration kDisruptedPodTimeout = absl::Minutes(2);

bool SelectedBy(const json::Value& pdb, const json::Value& pod) {
  if (pod.GetString({"metadata", "namespace"}) != pdb.GetString({"metadata", "namespace"})) return false;
  const json::Value* sel = pdb.Get({"spec", "selector"});
  if (sel == nullptr || !sel->is_object()) return false;  // a nil selector selects nothing
  auto parsed = selector::LabelSelector::FromObject(*sel);
  if (!parsed.ok()) return false;
  const json::Value* labels = pod.Get({"metadata", "labels"});
  return parsed->Matches(labels ? *labels : json::Value::MakeObject());
}

}  // namespace

BudgetStatus ComputeBudget(const json::Value& pdb, const std::vector<ObjectPtr>& pods, absl::Time now,
                           const std::function<absl::StatusOr<std::pair<std::string, int64_t>>(const json::Value&)>& scale_of) {
  BudgetStatus out;
  out.disrupted_pods = json::Value::MakeObject();
  // Evictions granted but not yet visible: the pod still counts as gone until it is, or until
  // the grant lapses.
  std::set<std::string> recently_disrupted;
  const json::Value* granted = pdb.Get({"status", "disruptedPods"});
  for (const ObjectPtr& p : pods) {
    std::string name = p->GetString({"metadata", "name"});
    const json::Value* when = granted ? granted->Find(name) : nullptr;
    if (when == nullptr || !when->is_string() || p->Get({"metadata", "deletionTimestamp"})) continue;
    absl::Time at = ParseRfc3339(when->as_string(), absl::InfinitePast());
    absl::Time expires = at + kDisruptedPodTimeout;
    if (expires <= now) continue;
    recently_disrupted.insert(name);
    out.disrupted_pods.Set(name, *when);
    out.next_expiry = std::min(out.next_expiry, expires - now);
  }
  for (const ObjectPtr& p : pods) {
    if (p->Get({"metadata", "deletionTimestamp"})) continue;
    if (recently_disrupted.count(p->GetString({"metadata", "name"}))) continue;
    if (IsPodReady(*p)) ++out.current_healthy;
  }
  const json::Value* min_available = pdb.Get({"spec", "minAvailable"});
  const json::Value* max_unavailable = pdb.Get({"spec", "maxUnavailable"});
  bool needs_scale = max_unavailable != nullptr || (min_available && min_available->is_string());
  if (!needs_scale) {
    out.expected = static_cast<int64_t>(pods.size());
    out.desired_healthy = min_available && min_available->is_int() ? min_available->as_int() : 0;
  } else {
    // The owners' replicas, each controller counted once (getExpectedScale).
    std::map<std::string, int64_t> controllers;
    for (const ObjectPtr& p : pods) {
      auto scale = scale_of(*p);
      if (!scale.ok()) {
        out.error = std::string(scale.status().message());
        return out;
      }
      controllers[scale->first] = scale->second;
    }
    for (const auto& [key, replicas] : controllers) out.expected += replicas;
    if (max_unavailable) {
      int64_t unavailable = intstr::ScaledValueOr(max_unavailable, out.expected, true, 0);
      out.desired_healthy = std::max<int64_t>(0, out.expected - unavailable);
    } else {
      out.desired_healthy = intstr::ScaledValueOr(min_available, out.expected, true, 0);
    }
  }
  out.allowed = out.expected > 0 ? std::max<int64_t>(0, out.current_healthy - out.desired_healthy) : 0;
  return out;
}

DisruptionController::DisruptionController(client::ApiClient& api, Informer& budgets, Informer& pods,
                                           Informer& replicasets, const Clock& clock, int workers)
    : api_(api), budgets_(budgets), pods_(pods), replicasets_(replicasets), clock_(clock),
      controller_("disruption", *this, clock, workers) {
  auto enqueue = [this](const ObjectPtr& pdb) { controller_.Enqueue(Informer::KeyOf(*pdb)); };
  budgets_.AddHandlers({enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& n) { enqueue(n); }, [](const ObjectPtr&) {}});
  pods_.AddHandlers({[this](const ObjectPtr& p) { OnPod(p); }, [this](const ObjectPtr&, const ObjectPtr& p) { OnPod(p); },
                     [this](const ObjectPtr& p) { OnPod(p); }});
  // A changed replica count changes the expected pods of percentage budgets.
  replicasets_.AddHandlers({[](const ObjectPtr&) {},
                            [this](const ObjectPtr&, const ObjectPtr& rs) {
                              for (const ObjectPtr& pdb : budgets_.List()) {
                                if (pdb->GetString({"metadata", "namespace"}) == rs->GetString({"metadata", "namespace"})) {
                                  controller_.Enqueue(Informer::KeyOf(*pdb));
                                }
                              }
                            },
                            [](const ObjectPtr&) {}});
}

void DisruptionController::OnPod(const ObjectPtr& pod) {
  for (const ObjectPtr& pdb : budgets_.List()) {
    if (SelectedBy(*pdb, *pod)) controller_.Enqueue(Informer::KeyOf(*pdb));
  }
}

absl::StatusOr<Result> DisruptionController::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr pdb = budgets_.Get(request.Key());
  if (pdb == nullptr) return Result{};
  std::vector<ObjectPtr> selected;
  for (const ObjectPtr& p : pods_.List()) {
    if (SelectedBy(*pdb, *p)) selected.push_back(p);
  }
  auto scale_of = [this](const json::Value& pod) -> absl::StatusOr<std::pair<std::string, int64_t>> {
    std::string ns = pod.GetString({"metadata", "namespace"});
    if (const json::Value* owners = pod.Get({"metadata", "ownerReferences"}); owners && owners->is_array()) {
      for (const json::Value& ref : owners->as_array()) {
        const json::Value* c = ref.Find("controller");
        if (c == nullptr || !c->is_bool() || !c->as_bool()) continue;
        if (ref.GetString({"kind"}) == "ReplicaSet") {
          ObjectPtr rs = replicasets_.Get(ns + "/" + ref.GetString({"name"}));
          if (rs && rs->GetString({"metadata", "uid"}) == ref.GetString({"uid"})) {
            return std::pair<std::string, int64_t>{"ReplicaSet/" + ns + "/" + ref.GetString({"name"}),
                                                   IntAt(*rs, {"spec", "replicas"}, 1)};
          }
        }
      }
    }
    return absl::FailedPreconditionError(StrCat("found no controllers for pod \"", pod.GetString({"metadata", "name"}), "\""));
  };
  absl::Time now = clock_.Now();
  BudgetStatus computed = ComputeBudget(*pdb, selected, now, scale_of);
  json::Value updated = *pdb;
  json::Value& status = updated.Ensure({"status"});
  const json::Value* generation = pdb->Get({"metadata", "generation"});
  status.Set("observedGeneration", generation && generation->is_int() ? generation->as_int() : 1);
  if (!computed.error.empty()) {
    // As upstream: nothing may be disrupted while the budget cannot be computed.
    status.Set("disruptionsAllowed", 0);
    SetCondition(updated, "DisruptionAllowed", "False", "SyncFailed", computed.error, now);
  } else {
    status.Set("expectedPods", computed.expected);
    status.Set("currentHealthy", computed.current_healthy);
    status.Set("desiredHealthy", computed.desired_healthy);
    status.Set("disruptionsAllowed", computed.allowed);
    if (computed.disrupted_pods.size() > 0) {
      status.Set("disruptedPods", computed.disrupted_pods);
    } else {
      status.Erase("disruptedPods");
    }
    if (computed.allowed > 0) {
      SetCondition(updated, "DisruptionAllowed", "True", "SufficientPods", "", now);
    } else {
      SetCondition(updated, "DisruptionAllowed", "False", "InsufficientPods", "", now);
    }
  }
  if (!(updated == *pdb)) {
    auto r = api_.UpdateStatus(client::resources::kPodDisruptionBudgets, updated);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  }
  if (computed.next_expiry != absl::InfiniteDuration()) return Result{computed.next_expiry};
  return Result{};
}

}  // namespace berth::controllers::builtin
