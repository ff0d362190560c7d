#pragma once
// File: apiserver/server/serving_pki.h
// Secure by default: unless certificate files are given (or the loopback development flag asks
// for plain HTTP), berth-apiserver serves HTTPS with the cluster PKI it makes and renews in its
// certificate directory (core/pki/cluster_pki.h), verifies client certificates against the client
// CA, and authorizes with Node,RBAC.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "apiserver/server/apiserver.h"
#include "core/time/clock.h"
#include "core/time/periodic.h"

namespace berth::apiserver {

struct SecurityFlags {
  std::string cert_dir;                // empty: DATA_DIR/tls
  std::vector<std::string> tls_sans;   // extra subjectAltNames
  bool insecure_loopback_http = false;  // plain HTTP on loopback, AlwaysAllow unless a mode is given
  std::string authorization_mode;      // empty: Node,RBAC, or AlwaysAllow with the development flag
};

// Fills options' TLS files and authorization mode; makes or renews the PKI. Returns a renewal
// chore (daily) to keep alive while serving, or null when the certificates are not ours.
absl::StatusOr<std::unique_ptr<Periodic>> ApplySecurityFlags(const SecurityFlags& flags, ApiServerOptions& options,
                                                             const Clock& clock);

}  // namespace berth::apiserver
