#pragma once
// File: controllers/builtin/nodelifecycle/node_lifecycle_controller.h
// Notices nodes that stopped heartbeating: a node whose Lease (kube-node-lease/<node>) and Ready
// condition have not changed for `grace` gets Ready=Unknown and the
// node.kubernetes.io/unreachable taints (NoSchedule, NoExecute); after `eviction_timeout` more,
// its pods are deleted so that their controllers replace them elsewhere. When heartbeats come
// back, the taints go. Staleness is measured on this process's monotonic clock from the moment
// it saw a heartbeat change, so clock skew between machines does not matter.

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

struct NodeLifecycleOptions {
  absl::Duration grace = absl::Seconds(40);
  absl::Duration eviction_timeout = absl::Seconds(300);
  absl::Duration monitor_period = absl::Seconds(1);
};

class NodeLifecycleController final : public Reconciler {
 public:
  NodeLifecycleController(client::ApiClient& api, Informer& nodes, Informer& leases, Informer& pods,
                          NodeLifecycleOptions options = {}, const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  struct Health {
    std::string heartbeat;  // lease renewTime + Ready heartbeat, as last seen
    std::chrono::steady_clock::time_point seen_at;
    std::chrono::steady_clock::time_point unreachable_since{};
  };

  client::ApiClient& api_;
  Informer& nodes_;
  Informer& leases_;
  Informer& pods_;
  const NodeLifecycleOptions options_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Health> health_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
