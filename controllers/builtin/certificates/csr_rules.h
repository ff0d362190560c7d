#pragma once
// File: controllers/builtin/certificates/csr_rules.h
// What kube-controller-manager's certificate controllers read from a CertificateSigningRequest:
// its conditions, its decoded request, and whether it is a node's client certificate request as
// the kube-apiserver-client-kubelet signer defines it (CN system:node:<name>, O exactly
// system:nodes, usages within digital signature, key encipherment and client auth).

#include <string>

#include "absl/status/statusor.h"
#include "core/json/value.h"
#include "core/pki/certificates.h"

namespace berth::controllers::builtin {

inline constexpr char kKubeletClientSigner[] = "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr char kApiServerClientSigner[] = "kubernetes.io/kube-apiserver-client";

bool HasCondition(const json::Value& csr, const std::string& type);
// The PEM of spec.request.
absl::StatusOr<std::string> RequestPem(const json::Value& csr);
// Empty when the CSR is a valid node client request; otherwise why not.
std::string NodeClientProblem(const json::Value& csr, const pki::RequestInfo& info);

}  // namespace berth::controllers::builtin
