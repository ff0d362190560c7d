#include "core/pki/cluster_pki.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "core/jwt/jwt.h"
#include "core/pki/certificates.h"
#include "core/pki/private_files.h"
#include "core/strings/strings.h"

namespace berth::pki {

bool IsIpAddress(const std::string& text) {
  unsigned char raw[16];
  return inet_pton(AF_INET, text.c_str(), raw) == 1 || inet_pton(AF_INET6, text.c_str(), raw) == 1;
}

namespace {

// inet_ntop's spelling, so "::0001" and "::1" compare equal against what Inspect reports.
std::string CanonicalIp(const std::string& text) {
  unsigned char raw[16];
  char out[INET6_ADDRSTRLEN] = {0};
  if (inet_pton(AF_INET, text.c_str(), raw) == 1) return inet_ntop(AF_INET, raw, out, sizeof out);
  if (inet_pton(AF_INET6, text.c_str(), raw) == 1) return inet_ntop(AF_INET6, raw, out, sizeof out);
  return text;
}

std::vector<std::string> LocalAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || !(a->ifa_flags & IFF_UP)) continue;
    char text[INET6_ADDRSTRLEN] = {0};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr)) continue;  // needs a zone; no client names it
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    out.emplace_back(text);
  }
  freeifaddrs(list);
  return out;
}

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

absl::StatusOr<KeyPair> ReadPair(const std::string& cert_path, const std::string& key_path) {
  auto cert = ReadWholeFile(cert_path);
  if (!cert.ok()) return cert.status();
  auto key = ReadWholeFile(key_path);
  if (!key.ok()) return key.status();
  return KeyPair{*std::move(cert), *std::move(key)};
}

absl::Status WritePair(const KeyPair& pair, const std::string& cert_path, const std::string& key_path) {
  // The key first: a crash between the two leaves a certificate that does not match, which the
  // next start re-issues, never a new certificate with a stale key.
  if (absl::Status s = WritePrivateFile(key_path, pair.key_pem); !s.ok()) return s;
  return WritePrivateFile(cert_path, pair.cert_pem);
}

// A CA read from disk, or made when either file is missing or they do not belong together.
absl::StatusOr<KeyPair> EnsureCa(const std::string& cert_path, const std::string& key_path, const std::string& name,
                                 const Clock& clock, PkiChanges& changes) {
  auto existing = ReadPair(cert_path, key_path);
  if (existing.ok() && KeyMatches(existing->cert_pem, existing->key_pem)) return *existing;
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  auto made = NewCertificateAuthority(StrCat(name, "@", absl::ToUnixSeconds(clock.Now())), kCaValidity, clock.Now());
  if (!made.ok()) return made.status();
  if (absl::Status s = WritePair(*made, cert_path, key_path); !s.ok()) return s;
  changes.created.push_back(name);
  return made;
}

// Why a leaf certificate of `ca` must be re-issued, or "" when it is good; `info` receives what
// the certificate says, so a caller with more to check does not parse it again.
std::string LeafRenewalReason(const absl::StatusOr<KeyPair>& leaf, const KeyPair& ca, const char* ca_name, absl::Time now,
                              CertificateInfo* info = nullptr) {
  if (!leaf.ok()) return "absent";
  if (!KeyMatches(leaf->cert_pem, leaf->key_pem)) return "its key does not match";
  if (!SignedBy(leaf->cert_pem, ca.cert_pem)) return StrCat("not signed by ", ca_name);
  auto inspected = Inspect(leaf->cert_pem);
  if (!inspected.ok()) return "unreadable";
  if (inspected->not_after - now <= kRenewBefore) return "expires within 90 days";
  if (info != nullptr) *info = *std::move(inspected);
  return "";
}

std::string ServingRenewalReason(const absl::StatusOr<KeyPair>& serving, const KeyPair& ca, const ServingNames& names,
                                 absl::Time now) {
  CertificateInfo parsed;
  if (std::string why = LeafRenewalReason(serving, ca, "server-ca", now, &parsed); !why.empty()) return why;
  const CertificateInfo* info = &parsed;
  for (const std::string& dns : names.dns_names) {
    if (std::find(info->dns_names.begin(), info->dns_names.end(), dns) == info->dns_names.end()) {
      return StrCat("SAN ", dns, " missing");
    }
  }
  for (const std::string& ip : names.ip_addresses) {
    if (std::find(info->ip_addresses.begin(), info->ip_addresses.end(), CanonicalIp(ip)) == info->ip_addresses.end()) {
      return StrCat("SAN ", ip, " missing");
    }
  }
  return "";
}

}  // namespace

ClusterPkiFiles FilesIn(const std::string& dir) {
  return {StrCat(dir, "/server-ca.crt"),         StrCat(dir, "/server-ca.key"), StrCat(dir, "/client-ca.crt"),
          StrCat(dir, "/client-ca.key"),         StrCat(dir, "/serving-apiserver.crt"),
          StrCat(dir, "/serving-apiserver.key"), StrCat(dir, "/client-kube-apiserver.crt"),
          StrCat(dir, "/client-kube-apiserver.key"), StrCat(dir, "/service-account.key")};
}

ServingNames ApiServerNames(const std::string& listen_host, const std::string& service_ip,
                            const std::vector<std::string>& extra) {
  ServingNames names;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  for (const char* dns : {"localhost", static_cast<const char*>(host), "kubernetes", "kubernetes.default",
                          "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}) {
    AddUnique(names.dns_names, dns);
  }
  for (const char* ip : {"127.0.0.1", "::1"}) AddUnique(names.ip_addresses, ip);
  if (listen_host == "0.0.0.0" || listen_host == "::" || listen_host.empty()) {
    for (const std::string& ip : LocalAddresses()) AddUnique(names.ip_addresses, CanonicalIp(ip));
  } else if (IsIpAddress(listen_host)) {
    AddUnique(names.ip_addresses, CanonicalIp(listen_host));
  } else {
    AddUnique(names.dns_names, listen_host);
  }
  if (IsIpAddress(service_ip)) AddUnique(names.ip_addresses, CanonicalIp(service_ip));
  for (const std::string& san : extra) {
    if (IsIpAddress(san)) {
      AddUnique(names.ip_addresses, CanonicalIp(san));
    } else {
      AddUnique(names.dns_names, san);
    }
  }
  return names;
}

absl::StatusOr<PkiChanges> EnsureClusterPki(const std::string& dir, const ServingNames& names, const Clock& clock) {
  if (absl::Status s = EnsurePrivateDirectory(dir); !s.ok()) return s;
  ClusterPkiFiles files = FilesIn(dir);
  PkiChanges changes;
  auto server_ca = EnsureCa(files.server_ca_cert, files.server_ca_key, "berth-server-ca", clock, changes);
  if (!server_ca.ok()) return server_ca.status();
  auto client_ca = EnsureCa(files.client_ca_cert, files.client_ca_key, "berth-client-ca", clock, changes);
  if (!client_ca.ok()) return client_ca.status();
  if (auto sa_key = ReadWholeFile(files.service_account_key); !sa_key.ok()) {
    if (!absl::IsNotFound(sa_key.status())) return sa_key.status();
    auto made = jwt::NewRsaKeyPem(2048);
    if (!made.ok()) return made.status();
    if (absl::Status s = WritePrivateFile(files.service_account_key, *made); !s.ok()) return s;
    changes.created.push_back("service-account");
  }
  auto kubelet_client = ReadPair(files.kubelet_client_cert, files.kubelet_client_key);
  if (!kubelet_client.ok() && !absl::IsNotFound(kubelet_client.status())) return kubelet_client.status();
  if (!LeafRenewalReason(kubelet_client, *client_ca, "client-ca", clock.Now()).empty()) {
    CertificateSpec spec{.common_name = kKubeletClientUser, .usage = Usage::kClient, .validity = kLeafValidity};
    auto issued = Issue(spec, *client_ca, clock.Now());
    if (!issued.ok()) return issued.status();
    if (absl::Status s = WritePair(*issued, files.kubelet_client_cert, files.kubelet_client_key); !s.ok()) return s;
    changes.created.push_back("client-kube-apiserver");
  }
  auto serving = ReadPair(files.serving_cert, files.serving_key);
  if (!serving.ok() && !absl::IsNotFound(serving.status())) return serving.status();
  std::string reason = ServingRenewalReason(serving, *server_ca, names, clock.Now());
  if (reason.empty()) return changes;
  CertificateSpec spec{.common_name = "berth-apiserver",
                       .dns_names = names.dns_names,
                       .ip_addresses = names.ip_addresses,
                       .usage = Usage::kServer,
                       .validity = kLeafValidity};
  auto issued = Issue(spec, *server_ca, clock.Now());
  if (!issued.ok()) return issued.status();
  issued->cert_pem += server_ca->cert_pem;  // the chain clients that know only a root need
  if (absl::Status s = WritePair(*issued, files.serving_cert, files.serving_key); !s.ok()) return s;
  changes.created.push_back("serving-apiserver");
  changes.reason = reason;
  return changes;
}

absl::StatusOr<KeyPair> IssueClientCertificate(const std::string& dir, const std::string& user,
                                               const std::vector<std::string>& groups, const Clock& clock) {
  ClusterPkiFiles files = FilesIn(dir);
  auto client_ca = ReadPair(files.client_ca_cert, files.client_ca_key);
  if (!client_ca.ok()) return client_ca.status();
  CertificateSpec spec{.common_name = user, .organizations = groups, .usage = Usage::kClient, .validity = kLeafValidity};
  return Issue(spec, *client_ca, clock.Now());
}

namespace {

std::string YamlQuoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// `user_fields`: the indented lines of the user entry (the credential).
std::string Kubeconfig(const std::string& server, const std::string& ca_pem, const std::string& user,
                       const std::string& user_fields) {
  return StrCat("apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n  cluster:\n    server: ", YamlQuoted(server),
                "\n    certificate-authority-data: ", absl::Base64Escape(ca_pem), "\nusers:\n- name: ", YamlQuoted(user),
                "\n  user:\n", user_fields, "contexts:\n- name: berth\n  context:\n    cluster: berth\n    user: ",
                YamlQuoted(user), "\n    namespace: default\ncurrent-context: berth\n");
}

}  // namespace

std::string KubeconfigYaml(const std::string& server, const std::string& ca_pem, const std::string& user,
                           const KeyPair& client) {
  return Kubeconfig(server, ca_pem, user,
                    StrCat("    client-certificate-data: ", absl::Base64Escape(client.cert_pem),
                           "\n    client-key-data: ", absl::Base64Escape(client.key_pem), "\n"));
}

std::string KubeconfigYamlForCredentialFile(const std::string& server, const std::string& ca_pem, const std::string& user,
                                            const std::string& credential_file) {
  return Kubeconfig(server, ca_pem, user,
                    StrCat("    client-certificate: ", YamlQuoted(credential_file), "\n    client-key: ",
                           YamlQuoted(credential_file), "\n"));
}

absl::StatusOr<std::string> ClientKubeconfig(const std::string& dir, const std::string& server,
                                             const std::string& user, const KeyPair& client) {
  auto server_ca = ReadWholeFile(FilesIn(dir).server_ca_cert);
  if (!server_ca.ok()) return server_ca.status();
  return KubeconfigYaml(server, *server_ca, user, client);
}

}  // namespace berth::pki
