#pragma once
// File: controllers/builtin/deployment/deployment_controller.h
// Rolls a Deployment's pod template out through ReplicaSets, one per template hash:
// RollingUpdate honouring maxSurge/maxUnavailable, Recreate, pause, revision history (the
// deployment.kubernetes.io/revision annotation `kubectl rollout history/undo` reads), cleanup
// beyond revisionHistoryLimit, and status with the Available and Progressing conditions
// (progressDeadlineSeconds) exactly as `kubectl rollout status` reads them.

#include <string>
#include <vector>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

// Kubernetes' pod-template-hash: FNV-1a over the template (and collision count), encoded with
// the consonant alphabet.
std::string PodTemplateHash(const json::Value& pod_template, int64_t collision_count);

class DeploymentController final : public Reconciler {
 public:
  DeploymentController(client::ApiClient& api, Informer& deployments, Informer& replicasets,
                       const Clock& clock = RealClock::Get(), int workers = 2);
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }
  // Optional: where the controller reports what it did (v1 Events).
  void SetEventRecorder(EventRecorder* recorder) { events_ = recorder; }

 private:
  absl::Status ScaleReplicaSet(const json::Value& rs, int64_t replicas, const json::Value* annotations = nullptr);
  absl::StatusOr<ObjectPtr> EnsureNewReplicaSet(const json::Value& d, const std::vector<ObjectPtr>& owned,
                                                int64_t replicas, int64_t revision);

  client::ApiClient& api_;
  Informer& deployments_;
  Informer& replicasets_;
  const Clock& clock_;
  EventRecorder* events_ = nullptr;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
