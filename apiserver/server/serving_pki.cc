#include "apiserver/server/serving_pki.h"

#include <filesystem>

#include "apiserver/storage/encryption/encryption_config.h"
#include "core/log/log.h"
#include "core/net/ipv4.h"
#include "core/pki/cluster_pki.h"
#include "core/pki/private_files.h"
#include "core/strings/strings.h"

namespace berth::apiserver {
namespace {

// The `kubernetes` Service's ClusterIP: the first address of the service range.
std::string FirstServiceIp(const std::string& range) {
  auto prefix = net::ParseIpv4Prefix(range);
  if (!prefix.ok()) return "";
  return net::FormatIpv4(prefix->network + 1);
}

absl::Status EnsureAndLog(const std::string& dir, const pki::ServingNames& names, const Clock& clock) {
  auto changes = pki::EnsureClusterPki(dir, names, clock);
  if (!changes.ok()) return absl::Status(changes.status().code(), StrCat("--cert-dir ", dir, ": ", changes.status().message()));
  for (const std::string& made : changes->created) {
    BERTH_LOG(Info, "apiserver", "Certificate issued", "name", made, "dir", dir, "reason",
              made == "serving-apiserver" ? changes->reason : made == "client-kube-apiserver" ? "absent or due" : "absent");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Periodic>> ApplySecurityFlags(const SecurityFlags& flags, ApiServerOptions& options,
                                                             const Clock& clock) {
  bool own_files = options.tls_cert_file.empty() && options.tls_key_file.empty();
  if (options.kubelet_client_certificate.empty() != options.kubelet_client_key.empty()) {
    return absl::InvalidArgumentError("--kubelet-client-certificate and --kubelet-client-key go together");
  }
  if (flags.insecure_loopback_http) {
    if (!own_files) return absl::InvalidArgumentError("--insecure-loopback-http and --tls-cert-file exclude each other");
    options.authorization_mode = flags.authorization_mode.empty() ? "AlwaysAllow" : flags.authorization_mode;
    return std::unique_ptr<Periodic>();
  }
  options.authorization_mode = flags.authorization_mode.empty() ? "Node,RBAC" : flags.authorization_mode;
  if (!own_files) return std::unique_ptr<Periodic>();
  std::string dir = flags.cert_dir;
  if (dir.empty()) {
    if (options.data_dir.empty()) {
      return absl::InvalidArgumentError(
          "an in-memory apiserver has no place for its certificates: give --cert-dir, --tls-cert-file, or "
          "--insecure-loopback-http");
    }
    dir = StrCat(options.data_dir, "/tls");
  }
  // The advertised address too: clients that find the apiserver through the `kubernetes`
  // EndpointSlice connect to it by that address, as to kube-apiserver's.
  std::vector<std::string> sans = flags.tls_sans;
  if (!options.advertise_address.empty()) sans.push_back(options.advertise_address);
  pki::ServingNames names = pki::ApiServerNames(options.host, FirstServiceIp(options.service_cluster_ip_range), sans);
  if (absl::Status s = EnsureAndLog(dir, names, clock); !s.ok()) return s;
  pki::ClusterPkiFiles files = pki::FilesIn(dir);
  options.tls_cert_file = files.serving_cert;
  options.tls_key_file = files.serving_key;
  if (options.client_ca_file.empty()) options.client_ca_file = files.client_ca_cert;
  if (options.service_account_signing_key_file.empty()) options.service_account_signing_key_file = files.service_account_key;
  if (options.encryption_provider_config.empty()) {
    // Secrets encrypted at rest from the first start on, with a key kept beside the CAs (0600).
    std::string path = StrCat(dir, "/encryption-config.yaml");
    if (!std::filesystem::exists(path)) {
      auto made = storage::encryption::NewEncryptionConfigYaml();
      if (!made.ok()) return made.status();
      if (absl::Status s = pki::WritePrivateFile(path, *made); !s.ok()) return s;
    }
    options.encryption_provider_config = path;
  }
  if (options.kubelet_client_certificate.empty() && options.kubelet_client_key.empty()) {
    options.kubelet_client_certificate = files.kubelet_client_cert;
    options.kubelet_client_key = files.kubelet_client_key;
  }
  // The server rereads changed certificate files for new connections: a daily check renews a
  // long-running apiserver's certificate before it expires.
  return std::make_unique<Periodic>(absl::Hours(24), [dir, names, &clock] {
    if (absl::Status s = EnsureAndLog(dir, names, clock); !s.ok()) {
      BERTH_LOG(Error, "apiserver", "Certificate renewal failed", "error", s.ToString());
    }
  });
}

}  // namespace berth::apiserver
