#pragma once
// File: apiserver/registry/admission/certificate_signing.h
// A new CertificateSigningRequest records who asked: spec.username, uid, groups and extra are
// the requester's, whatever the body said (upstream's strategy does the same), so approvers and
// signers can trust them. A request of the general client signer
// (kubernetes.io/kube-apiserver-client) for a subject in system:masters is refused (403), as
// upstream's CertificateSubjectRestriction does. (Approving needs `approve` and setting the
// certificate `sign` on the signer: apiserver/endpoints/certificate_signers.cc.)

#include <memory>

#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::registry {

std::shared_ptr<const AdmissionPlugin> CertificateSigningRequestAdmission();

}  // namespace berth::apiserver::registry
