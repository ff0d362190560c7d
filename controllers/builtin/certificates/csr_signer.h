#pragma once
// File: controllers/builtin/certificates/csr_signer.h
// kube-controller-manager's csrsigning for the client signers: an Approved, not Denied or
// Failed, CertificateSigningRequest of kubernetes.io/kube-apiserver-client-kubelet or
// kubernetes.io/kube-apiserver-client gets a certificate of the cluster's client CA (the
// --cluster-signing-cert-file/-key-file pair) in status.certificate, for its subject only and
// for spec.expirationSeconds (or the default duration). A request the signer's rules refuse is
// marked Failed (reason SignerValidationFailure) instead. Other signers are left to others.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "controllers/runtime/reconciler.h"
#include "core/pki/certificates.h"

namespace berth::controllers::builtin {

class CsrSigner final : public Reconciler {
 public:
  CsrSigner(client::ApiClient& api, Informer& csrs, pki::KeyPair ca, absl::Duration default_duration,
            const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  absl::Status Fail(const json::Value& csr, const std::string& message);
  client::ApiClient& api_;
  Informer& csrs_;
  const pki::KeyPair ca_;
  const absl::Duration default_duration_;
  const Clock& clock_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
