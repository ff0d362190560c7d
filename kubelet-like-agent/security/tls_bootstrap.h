#pragma once
// File: kubelet-like-agent/security/tls_bootstrap.h
// The kubelet's TLS bootstrap (--bootstrap-kubeconfig): with a bootstrap token, the agent asks
// the CertificateSigningRequest API for its client certificate (CN system:node:<name>, O
// system:nodes, signer kubernetes.io/kube-apiserver-client-kubelet), waits until the controller
// manager has approved and signed it, and writes the kubeconfig it runs with from then on. It
// also fetches the client CA its own port must trust (kube-system/extension-apiserver-
// authentication) when that file is missing. Nothing is done when the kubeconfig exists.
// The certificate and its key go to one file beside the kubeconfig (agent-client-current.pem),
// which the kubeconfig names and the client reads for each connection, so that the agent's
// rotation (client_cert_rotation.h) can replace it in place.

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/client/api_client.h"
#include "core/pki/certificates.h"
#include "core/time/clock.h"

namespace berth::agent {

struct TlsBootstrapOptions {
  std::string bootstrap_kubeconfig;  // server, CA, bootstrap token
  std::string kubeconfig;            // written (0600) with the issued certificate
  std::string client_ca_file;        // written when missing (empty: not fetched)
  std::string node_name;
  absl::Duration timeout = absl::Minutes(5);
};

absl::Status RunTlsBootstrap(const TlsBootstrapOptions& options, const Clock& clock = RealClock::Get());

// The credential file RunTlsBootstrap writes beside `kubeconfig`.
std::string CredentialFileFor(const std::string& kubeconfig);

// Asks for a node client certificate (a fresh P-256 key, CN system:node:<node_name>, O
// system:nodes, signer kubernetes.io/kube-apiserver-client-kubelet) with `api`'s credentials and
// waits until it is issued: the certificate and its key, or why not (denied, refused by the
// signer, not issued within `timeout`, `cancelled`).
absl::StatusOr<pki::KeyPair> RequestNodeClientCertificate(client::ApiClient& api, const std::string& node_name,
                                                          absl::Duration timeout, const Clock& clock,
                                                          const std::function<bool()>& cancelled = {});

}  // namespace berth::agent
