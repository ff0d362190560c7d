#include "kubelet-like-agent/security/serving_certificate.h"

#include "core/pki/certificates.h"
#include "core/pki/cluster_pki.h"
#include "core/pki/private_files.h"
#include "core/strings/strings.h"

namespace berth::agent {
namespace {

bool StillGood(const ServingFiles& files, absl::Time now) {
  auto cert = pki::ReadWholeFile(files.cert_file);
  auto key = pki::ReadWholeFile(files.key_file);
  if (!cert.ok() || !key.ok() || !pki::KeyMatches(*cert, *key)) return false;
  auto info = pki::Inspect(*cert);
  return info.ok() && info->not_after - now > pki::kRenewBefore;
}

}  // namespace

absl::StatusOr<ServingFiles> EnsureServingCertificate(const std::string& dir, const std::string& node_name,
                                                      const std::vector<std::string>& addresses, const Clock& clock) {
  if (absl::Status s = pki::EnsurePrivateDirectory(dir); !s.ok()) return s;
  ServingFiles files{StrCat(dir, "/agent.crt"), StrCat(dir, "/agent.key")};
  const absl::Time now = clock.Now();
  if (StillGood(files, now)) return files;
  auto ca = pki::NewCertificateAuthority(StrCat(node_name, "-ca@", absl::ToUnixSeconds(now)), pki::kLeafValidity, now);
  if (!ca.ok()) return ca.status();
  pki::CertificateSpec spec{.common_name = StrCat(node_name, "@", absl::ToUnixSeconds(now)),
                            .usage = pki::Usage::kServer,
                            .validity = pki::kLeafValidity};
  spec.dns_names.push_back(node_name);
  for (const std::string& a : addresses) {
    if (a.empty()) continue;
    (pki::IsIpAddress(a) ? spec.ip_addresses : spec.dns_names).push_back(a);
  }
  auto issued = pki::Issue(spec, *ca, now);
  if (!issued.ok()) return issued.status();
  // The key first: a crash between the two leaves a mismatch the next start repairs.
  if (absl::Status s = pki::WritePrivateFile(files.key_file, issued->key_pem); !s.ok()) return s;
  if (absl::Status s = pki::WritePrivateFile(files.cert_file, issued->cert_pem + ca->cert_pem); !s.ok()) return s;
  return files;
}

}  // namespace berth::agent
