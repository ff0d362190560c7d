#pragma once
// File: controllers/builtin/certificates/csr_approver.h
// kube-controller-manager's csrapproving: a node's client certificate request (signer
// kubernetes.io/kube-apiserver-client-kubelet, the node client shape) is approved on its own when
// a SubjectAccessReview says its requester may create certificatesigningrequests/nodeclient (a
// bootstrap token of a joining node) or, for a node renewing its own certificate,
// certificatesigningrequests/selfnodeclient. Everything else waits for a person
// (`kubectl certificate approve`).

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "controllers/runtime/reconciler.h"

namespace berth::controllers::builtin {

class CsrApprover final : public Reconciler {
 public:
  CsrApprover(client::ApiClient& api, Informer& csrs, const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  absl::StatusOr<bool> Allowed(const json::Value& csr, const std::string& subresource);
  client::ApiClient& api_;
  Informer& csrs_;
  const Clock& clock_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
