#pragma once
// File: controllers/builtin/resourcequota/resourcequota_controller.h
// Keeps each ResourceQuota's status (hard = spec.hard, used = what exists now): pods that are
// not finished, by the quota's scopes, under every compute name; object counts
// (count/<resource> and the legacy names) from live lists. Quota admission raises `used` as it
// admits; this controller brings it back to the truth, so deletes free quota and a create that
// failed after admission does not hold it.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class ResourceQuotaController final : public Reconciler {
 public:
  ResourceQuotaController(client::ApiClient& api, Informer& quotas, Informer& pods, const Clock& clock = RealClock::Get(),
                          int workers = 2, absl::Duration resync = absl::Seconds(30));
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  void EnqueueNamespace(const std::string& ns);

  client::ApiClient& api_;
  Informer& quotas_;
  Informer& pods_;
  const Clock& clock_;
  const absl::Duration resync_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
