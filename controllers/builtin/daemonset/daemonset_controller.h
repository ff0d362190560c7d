#pragma once
// File: controllers/builtin/daemonset/daemonset_controller.h
// One pod per eligible node (nodeSelector, required node affinity, NoSchedule/NoExecute taints
// the template does not tolerate), following node additions and removals; RollingUpdate
// replaces pods of an older template at most maxUnavailable at a time; OnDelete leaves them.
// Pods are placed with spec.nodeName directly, as the DaemonSet controller did before it
// delegated to the scheduler.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class DaemonSetController final : public Reconciler {
 public:
  DaemonSetController(client::ApiClient& api, Informer& daemonsets, Informer& nodes, Informer& pods,
                      const Clock& clock = RealClock::Get(), int workers = 2);
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  client::ApiClient& api_;
  Informer& daemonsets_;
  Informer& nodes_;
  Informer& pods_;
  const Clock& clock_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
