#pragma once
// File: kubelet-like-agent/security/serving_certificate.h
// The agent's own HTTPS certificate when none is given, as the kubelet makes one in
// /var/lib/kubelet/pki: a private CA of its own signs a serving certificate for the node's names
// and addresses. Reused across restarts; made again when missing, not matching its key, or
// within 90 days of expiry. The apiserver does not verify it (kube-apiserver does not without
// --kubelet-certificate-authority); what protects the port is the client certificate it asks for.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time/clock.h"

namespace berth::agent {

struct ServingFiles {
  std::string cert_file, key_file;
};

absl::StatusOr<ServingFiles> EnsureServingCertificate(const std::string& dir, const std::string& node_name,
                                                      const std::vector<std::string>& addresses, const Clock& clock);

}  // namespace berth::agent
