#pragma once
// File: controllers/builtin/cronjob/cronjob_controller.h
// Creates a Job from a CronJob's jobTemplate at each scheduled time (in spec.timeZone),
// honouring concurrencyPolicy (Allow, Forbid, Replace), startingDeadlineSeconds, suspend and the
// successful/failed history limits; reports active jobs, lastScheduleTime and
// lastSuccessfulTime. Jobs are named <cronjob>-<scheduled minute since the epoch>, as in
// Kubernetes, so a retried create is harmless.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class CronJobController final : public Reconciler {
 public:
  CronJobController(client::ApiClient& api, Informer& cronjobs, Informer& jobs, const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  client::ApiClient& api_;
  Informer& cronjobs_;
  Informer& jobs_;
  const Clock& clock_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
