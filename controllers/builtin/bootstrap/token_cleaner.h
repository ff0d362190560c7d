#pragma once
// File: controllers/builtin/bootstrap/token_cleaner.h
// kube-controller-manager's tokencleaner: a bootstrap token Secret (kube-system, type
// bootstrap.kubernetes.io/token) is deleted once its `expiration` has passed, so an expired join
// token cannot linger. Each Secret is looked at again when it is due.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "controllers/runtime/reconciler.h"

namespace berth::controllers::builtin {

class TokenCleaner final : public Reconciler {
 public:
  // `secrets`: an informer over kube-system's Secrets (any type; others are ignored).
  TokenCleaner(client::ApiClient& api, Informer& secrets, const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  client::ApiClient& api_;
  Informer& secrets_;
  const Clock& clock_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
