#pragma once
// File: controllers/examples/taskrun/taskrun_controller.h
// An example custom controller written only against the public SDK (controllers/runtime and
// core/client), exactly as a user would write one. A TaskRun (example.berth.dev/v1) runs
// `spec.count` pods of `spec.image`/`spec.command` to completion and reports
// status.phase (Running, Succeeded, Failed) with counts.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::examples {

inline const client::Resource kTaskRuns{"example.berth.dev", "v1", "taskruns", true, "TaskRun"};
inline constexpr char kTaskRunLabel[] = "example.berth.dev/taskrun";

class TaskRunController final : public controllers::Reconciler {
 public:
  TaskRunController(client::ApiClient& api, controllers::Informer& taskruns, controllers::Informer& pods);
  absl::StatusOr<controllers::Result> Reconcile(const controllers::Request& request, std::stop_token stop) override;
  controllers::Controller& controller() { return controller_; }

 private:
  client::ApiClient& api_;
  controllers::Informer& taskruns_;
  controllers::Informer& pods_;
  controllers::Controller controller_;
};

}  // namespace berth::examples
