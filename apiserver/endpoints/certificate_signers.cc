#include "apiserver/endpoints/endpoints.h"

// Kubernetes' CertificateApproval and CertificateSigning admission: approving or denying a
// CertificateSigningRequest needs `approve`, and setting its certificate needs `sign`, on the
// cluster-scoped `signers` resource of certificates.k8s.io named after the request's signerName
// (or its domain with "/*": "example.com/*" covers every signer of example.com).

#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

bool IsCertificateSigningRequest(const registry::ResourceType& type) {
  return type.group == "certificates.k8s.io" && type.plural == "certificatesigningrequests";
}

absl::Status CheckSignerPermission(const Endpoints& c, const auth::UserInfo& user, const std::string& verb,
                                   const registry::ResourceType& type, const json::Value& csr) {
  if (!c.permits) return absl::OkStatus();
  const std::string signer = csr.GetString({"spec", "signerName"});
  if (c.permits(user, verb, "certificates.k8s.io", "signers", signer)) return absl::OkStatus();
  if (auto slash = signer.find('/'); slash != std::string::npos &&
                                     c.permits(user, verb, "certificates.k8s.io", "signers", signer.substr(0, slash) + "/*")) {
    return absl::OkStatus();
  }
  return api::Forbidden(type.Target(csr.GetString({"metadata", "name"})),
                        StrCat("user not permitted to ", verb, " requests with signerName \"", signer, "\""));
}

absl::Status CheckCertificateWrite(const Endpoints& c, const auth::UserInfo& user, const registry::ResourceType& type,
                                   const std::string& name, const registry::WriteOptions& options,
                                   const std::function<absl::StatusOr<registry::WriteResult>(const registry::WriteOptions&)>& write) {
  auto stored = c.registry.Get(type, "", name);
  if (!stored.ok()) return absl::OkStatus();  // the write itself answers 404
  auto current = json::ParseStored(*stored);
  if (!current.ok()) return api::InternalError(std::string(current.status().message()));
  if (CheckSignerPermission(c, user, "sign", type, *current).ok()) return absl::OkStatus();
  // Not a signer: the write may still change the conditions, not the certificate. What it would
  // store says which (a dry run, so patches of every kind are judged by their outcome).
  registry::WriteOptions dry = options;
  dry.dry_run = true;
  auto outcome = write(dry);
  if (!outcome.ok()) return outcome.status();
  if (outcome->object.GetString({"status", "certificate"}) == current->GetString({"status", "certificate"})) {
    return absl::OkStatus();
  }
  return CheckSignerPermission(c, user, "sign", type, *current);
}

}  // namespace berth::apiserver::endpoints
