#pragma once
// File: kubelet-like-agent/security/tls_bootstrap.h
// The kubelet's TLS bootstrap (--bootstrap-kubeconfig): with a bootstrap token, the agent asks
// the CertificateSigningRequest API for its client certificate (CN system:node:<name>, O
// system:nodes, signer kubernetes.io/kube-apiserver-client-kubelet), waits until the controller
// manager has approved and signed it, and writes the kubeconfig it runs with from then on. It
// also fetches the client CA its own port must trust (kube-system/extension-apiserver-
// authentication) when that file is missing. Nothing is done when the kubeconfig exists.

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
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

}  // namespace berth::agent
