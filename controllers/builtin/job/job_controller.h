#pragma once
// File: controllers/builtin/job/job_controller.h
// Runs a Job's pods to completion: up to `parallelism` at once until `completions` succeeded;
// retries failed pods up to `backoffLimit` (with exponential delay between failures); fails the
// Job past `activeDeadlineSeconds`; sets the Complete or Failed condition with startTime,
// completionTime and the active/ready/succeeded/failed counts; deletes finished Jobs after
// `ttlSecondsAfterFinished`.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/expectations.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class JobController final : public Reconciler {
 public:
  JobController(client::ApiClient& api, Informer& jobs, Informer& pods, const Clock& clock = RealClock::Get(),
                int workers = 2, absl::Duration backoff_base = absl::Seconds(10));
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }
  // Optional: where the controller reports what it did (v1 Events).
  void SetEventRecorder(EventRecorder* recorder) { events_ = recorder; }

 private:
  client::ApiClient& api_;
  Informer& jobs_;
  Informer& pods_;
  const Clock& clock_;
  const absl::Duration backoff_base_;
  Expectations expectations_;
  EventRecorder* events_ = nullptr;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
