#include "kubelet-like-agent/security/tls_bootstrap.h"

#include <filesystem>

#include "absl/strings/escaping.h"
#include "core/client/api_client.h"
#include "core/client/connection.h"
#include "core/log/log.h"
#include "core/pki/certificates.h"
#include "core/pki/cluster_pki.h"
#include "core/pki/private_files.h"
#include "core/strings/strings.h"

namespace berth::agent {
namespace {

bool Condition(const json::Value& csr, const std::string& type) {
  const json::Value* conds = csr.Get({"status", "conditions"});
  for (const json::Value& c : conds && conds->is_array() ? conds->as_array() : json::Array{}) {
    if (c.GetString({"type"}) == type) return true;
  }
  return false;
}

}  // namespace

absl::Status RunTlsBootstrap(const TlsBootstrapOptions& options, const Clock& clock) {
  std::error_code ec;
  const bool have_kubeconfig = std::filesystem::exists(options.kubeconfig, ec);
  const bool have_client_ca = options.client_ca_file.empty() || std::filesystem::exists(options.client_ca_file, ec);
  if (have_kubeconfig && have_client_ca) return absl::OkStatus();
  auto bootstrap = client::LoadKubeconfig(options.bootstrap_kubeconfig);
  if (!bootstrap.ok()) return bootstrap.status();
  auto api = client::ApiClient::Connect(*bootstrap);

  if (!have_client_ca) {
    auto cm = api->Get(client::resources::kConfigMaps, "kube-system", "extension-apiserver-authentication");
    if (!cm.ok()) return absl::Status(cm.status().code(), StrCat("fetching the client CA: ", cm.status().message()));
    std::string pem = cm->GetString({"data", "client-ca-file"});
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return absl::FailedPreconditionError("kube-system/extension-apiserver-authentication holds no client-ca-file");
    }
    if (absl::Status s = pki::WritePrivateFile(options.client_ca_file, pem); !s.ok()) return s;
  }
  if (have_kubeconfig) return absl::OkStatus();

  auto issued = RequestNodeClientCertificate(*api, options.node_name, options.timeout, clock);
  if (!issued.ok()) return issued.status();
  const std::string credential_file = CredentialFileFor(options.kubeconfig);
  if (absl::Status s = pki::WritePrivateFile(credential_file, issued->cert_pem + issued->key_pem); !s.ok()) return s;
  std::string yaml = pki::KubeconfigYamlForCredentialFile(bootstrap->server, bootstrap->ca_pem,
                                                          StrCat("system:node:", options.node_name), credential_file);
  if (absl::Status s = pki::WritePrivateFile(options.kubeconfig, yaml); !s.ok()) return s;
  BERTH_LOG(Info, "agent", "Client certificate issued", "kubeconfig", options.kubeconfig, "credential", credential_file);
  return absl::OkStatus();
}

std::string CredentialFileFor(const std::string& kubeconfig) {
  std::filesystem::path dir = std::filesystem::path(kubeconfig).parent_path();
  return std::filesystem::absolute(dir.empty() ? std::filesystem::path(".") : dir).lexically_normal().string() +
         "/agent-client-current.pem";
}

absl::StatusOr<pki::KeyPair> RequestNodeClientCertificate(client::ApiClient& api, const std::string& node_name,
                                                          absl::Duration timeout, const Clock& clock,
                                                          const std::function<bool()>& cancelled) {
  const std::string user = StrCat("system:node:", node_name);
  auto request = pki::NewCertificateRequest(user, {"system:nodes"});
  if (!request.ok()) return request.status();
  json::Value csr = json::Value::MakeObject();
  csr.Set("apiVersion", "certificates.k8s.io/v1");
  csr.Set("kind", "CertificateSigningRequest");
  csr.Ensure({"metadata"}).Set("generateName", "node-csr-");
  json::Value& spec = csr.Ensure({"spec"});
  spec.Set("request", absl::Base64Escape(request->csr_pem));
  spec.Set("signerName", "kubernetes.io/kube-apiserver-client-kubelet");
  spec.Set("usages", json::Value(json::Array{json::Value("digital signature"), json::Value("client auth")}));
  auto made = api.Create(client::resources::kCertificateSigningRequests, "", csr);
  if (!made.ok()) {
    return absl::Status(made.status().code(), StrCat("creating the certificate signing request: ", made.status().message()));
  }
  const std::string name = made->GetString({"metadata", "name"});
  BERTH_LOG(Info, "agent", "Waiting for the client certificate", "csr", name);
  const absl::Time deadline = clock.Now() + timeout;
  std::string cert;
  while (cert.empty()) {
    auto current = api.Get(client::resources::kCertificateSigningRequests, "", name);
    if (current.ok()) {
      if (Condition(*current, "Denied") || Condition(*current, "Failed")) {
        return absl::PermissionDeniedError(StrCat("certificate signing request ", name, " was ",
                                                  Condition(*current, "Denied") ? "denied" : "refused by the signer"));
      }
      std::string encoded = current->GetString({"status", "certificate"});
      if (!encoded.empty() && !absl::Base64Unescape(Sv(std::string_view(encoded)), &cert)) {
        return absl::DataLossError("the issued certificate is not base64");
      }
    }
    if (cert.empty()) {
      if (cancelled && cancelled()) return absl::CancelledError(StrCat("certificate signing request ", name, ": stopping"));
      if (clock.Now() >= deadline) {
        return absl::DeadlineExceededError(StrCat("certificate signing request ", name,
                                                  " was not approved and signed in time (is the controller-manager "
                                                  "running with --cluster-signing-cert-file?)"));
      }
      clock.SleepFor(absl::Milliseconds(500));
    }
  }
  if (!pki::KeyMatches(cert, request->key_pem)) return absl::DataLossError("the issued certificate is not for our key");
  BERTH_LOG(Info, "agent", "Client certificate issued", "csr", name);
  return pki::KeyPair{cert, request->key_pem};
}

}  // namespace berth::agent
