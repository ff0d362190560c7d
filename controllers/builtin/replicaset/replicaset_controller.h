#pragma once
// File: controllers/builtin/replicaset/replicaset_controller.h
// Keeps `spec.replicas` active pods matching a ReplicaSet's selector: creates from the template,
// deletes the least valuable extras, adopts matching orphans, releases pods that stop matching,
// and reports replicas / fullyLabeled / ready / available / observedGeneration.

#include <memory>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/expectations.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class ReplicaSetController final : public Reconciler {
 public:
  ReplicaSetController(client::ApiClient& api, Informer& replicasets, Informer& pods,
                       const Clock& clock = RealClock::Get(), int workers = 2);
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }
  // Optional: where the controller reports what it did (v1 Events).
  void SetEventRecorder(EventRecorder* recorder) { events_ = recorder; }

 private:
  void OnPod(const ObjectPtr& pod, bool created, bool deleted);
  absl::Status ManageReplicas(const json::Value& rs, const std::vector<ObjectPtr>& active, const std::string& key);

  client::ApiClient& api_;
  Informer& replicasets_;
  Informer& pods_;
  const Clock& clock_;
  Expectations expectations_;
  EventRecorder* events_ = nullptr;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
