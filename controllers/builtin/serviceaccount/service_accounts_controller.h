#pragma once
// File: controllers/builtin/serviceaccount/service_accounts_controller.h
// What every namespace holds in Kubernetes before anyone writes to it: the `default`
// ServiceAccount (kube-controller-manager's serviceaccount controller) and the
// `kube-root-ca.crt` ConfigMap whose `ca.crt` is the CA that verifies the apiserver (its
// root-ca-cert-publisher), so in-cluster clients can trust the API. Both are put back when
// deleted, and the ConfigMap's `ca.crt` when changed. Terminating namespaces are left alone.

#include <string>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/reconciler.h"
#include "controllers/runtime/informer.h"

namespace berth::controllers::builtin {

inline constexpr char kRootCaConfigMap[] = "kube-root-ca.crt";

class ServiceAccountsController final : public Reconciler {
 public:
  // `root_ca_pem` empty: no ConfigMap is published (a development cluster on plain HTTP).
  ServiceAccountsController(client::ApiClient& api, Informer& namespaces, Informer& service_accounts,
                            Informer& configmaps, std::string root_ca_pem, const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  absl::Status EnsureServiceAccount(const std::string& ns);
  absl::Status EnsureRootCa(const std::string& ns);

  client::ApiClient& api_;
  Informer& namespaces_;
  Informer& service_accounts_;
  Informer& configmaps_;
  const std::string root_ca_pem_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
