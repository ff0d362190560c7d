#pragma once
// File: apiserver/registry/admission/certificate_signing.h
// A new CertificateSigningRequest records who asked: spec.username, uid, groups and extra are
// the requester's, whatever the body said (upstream's strategy does the same), so approvers and
// signers can trust them.

#include <memory>

#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::registry {

std::shared_ptr<const AdmissionPlugin> CertificateSigningRequestAdmission();

}  // namespace berth::apiserver::registry
