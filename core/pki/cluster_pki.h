#pragma once
// File: core/pki/cluster_pki.h
// The cluster's certificate directory (DATA/tls, 0700), made on first start and renewed at every
// start, following k3s' rules:
//   server-ca.{crt,key}          the CA clients verify the apiserver with (10 years)
//   client-ca.{crt,key}          the CA the apiserver verifies client certificates with (10 years)
//   serving-apiserver.{crt,key}  the apiserver's certificate (leaf + CA chain, 1 year), re-issued
//                                when absent, within 90 days of expiry, missing a wanted SAN, not
//                                signed by server-ca, or not matching its key
//   service-account.key          RSA-2048 (PKCS#8), the ServiceAccount token signing key
// and the kubeconfigs that carry a client certificate of the client CA.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/pki/certificates.h"
#include "core/time/clock.h"

namespace berth::pki {

struct ClusterPkiFiles {
  std::string server_ca_cert, server_ca_key;
  std::string client_ca_cert, client_ca_key;
  std::string serving_cert, serving_key;
  // The apiserver's identity towards agents (exec, attach, port-forward, logs), of client-ca.
  std::string kubelet_client_cert, kubelet_client_key;
  // The RSA key ServiceAccount tokens are signed with (never rotated by Berth: rotating it would
  // invalidate every token in every pod at once).
  std::string service_account_key;
};

// The user that certificate names; the bootstrap policy binds it system:kubelet-api-admin.
inline constexpr char kKubeletClientUser[] = "system:kube-apiserver";
ClusterPkiFiles FilesIn(const std::string& dir);

// True for an IPv4 or IPv6 address in text form (a SAN goes in the IP list, not the DNS list).
bool IsIpAddress(const std::string& text);

struct ServingNames {
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

// The apiserver's SANs: localhost, this host's name, kubernetes[.default[.svc[.cluster.local]]],
// 127.0.0.1, ::1, the listen address (every local address for 0.0.0.0 / ::), the first address of
// the service range (the `kubernetes` Service's ClusterIP), and `extra` (--tls-san; IPs and names).
ServingNames ApiServerNames(const std::string& listen_host, const std::string& service_ip,
                            const std::vector<std::string>& extra);

// What EnsureClusterPki did, for the log.
struct PkiChanges {
  std::vector<std::string> created;  // file stems made or re-issued
  std::string reason;                // why the serving certificate was re-issued, if it was
};

// Creates what is missing and renews what is due (the serving and kubelet-client certificates);
// never touches valid files.
absl::StatusOr<PkiChanges> EnsureClusterPki(const std::string& dir, const ServingNames& names, const Clock& clock);

// A fresh client certificate of client-ca for `user` (CN) and `groups` (O), valid for a year.
absl::StatusOr<KeyPair> IssueClientCertificate(const std::string& dir, const std::string& user,
                                               const std::vector<std::string>& groups, const Clock& clock);

// A kubeconfig (YAML) for `server` that trusts `ca_pem` and carries `client`'s certificate.
std::string KubeconfigYaml(const std::string& server, const std::string& ca_pem, const std::string& user,
                           const KeyPair& client);
// The same naming one file that holds the certificate and its key (client-certificate and
// client-key both point at it), which a client reads again for each connection: the credential
// can then be replaced in place (the agent's client certificate rotation).
std::string KubeconfigYamlForCredentialFile(const std::string& server, const std::string& ca_pem, const std::string& user,
                                            const std::string& credential_file);

// A kubeconfig (YAML) for `server` that trusts dir's server-ca and carries `client`.
absl::StatusOr<std::string> ClientKubeconfig(const std::string& dir, const std::string& server,
                                             const std::string& user, const KeyPair& client);

inline constexpr absl::Duration kCaValidity = absl::Hours(24 * 3650);
inline constexpr absl::Duration kLeafValidity = absl::Hours(24 * 365);
inline constexpr absl::Duration kRenewBefore = absl::Hours(24 * 90);

}  // namespace berth::pki
