#pragma once
// File: controllers/builtin/disruption/disruption_controller.h
// Keeps each policy/v1 PodDisruptionBudget's status as Kubernetes' disruption controller does:
// expectedPods (matching pods, or the owners' replicas for percentages and maxUnavailable),
// currentHealthy (Ready, not being deleted, not just evicted), desiredHealthy,
// disruptionsAllowed, observedGeneration, the DisruptionAllowed condition, and disruptedPods
// (evictions the eviction subresource granted, dropped once the pod is gone or after 2 min).

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

// What a budget's status should be, from the pods it selects (pure; for tests).
struct BudgetStatus {
  int64_t expected = 0, current_healthy = 0, desired_healthy = 0, allowed = 0;
  json::Value disrupted_pods;  // object: pod name -> time, still pending
  absl::Duration next_expiry = absl::InfiniteDuration();  // when a disruptedPods entry lapses
  std::string error;                                      // why the budget cannot be computed
};
// `scale_of(pod)` answers the replicas of the pod's controller (and a key that identifies it),
// or an error when the pod has none (needed only for percentages and maxUnavailable).
BudgetStatus ComputeBudget(const json::Value& pdb, const std::vector<ObjectPtr>& pods, absl::Time now,
                           const std::function<absl::StatusOr<std::pair<std::string, int64_t>>(const json::Value&)>& scale_of);

class DisruptionController final : public Reconciler {
 public:
  DisruptionController(client::ApiClient& api, Informer& budgets, Informer& pods, Informer& replicasets,
                       const Clock& clock = RealClock::Get(), int workers = 2);
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  void OnPod(const ObjectPtr& pod);

  client::ApiClient& api_;
  Informer& budgets_;
  Informer& pods_;
  Informer& replicasets_;
  const Clock& clock_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
