#pragma once
// File: core/pki/certificates.h
// X.509 certificates and ECDSA P-256 keys as PEM text, made and read with OpenSSL: the cluster's
// own CAs, serving certificates and client certificates (CN → user, O → groups, as Kubernetes
// maps them). The only place outside the HTTP adapters that includes OpenSSL's X.509 headers.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::pki {

enum class Usage { kCertificateAuthority, kServer, kClient };

struct CertificateSpec {
  std::string common_name;
  std::vector<std::string> organizations;  // client certificates: the groups
  std::vector<std::string> dns_names;      // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries (v4 or v6 text)
  Usage usage = Usage::kClient;
  absl::Duration validity = absl::Hours(24 * 365);
};

// A certificate with its private key, both PEM.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed CA (basicConstraints critical CA:TRUE, keyUsage keyCertSign|cRLSign, SKI) with
// a fresh P-256 key.
absl::StatusOr<KeyPair> NewCertificateAuthority(const std::string& common_name, absl::Duration validity,
                                                absl::Time now);

// A leaf certificate for `spec` with a fresh P-256 key, signed by `ca` (AKI/SKI, EKU by usage).
// Its notBefore is an hour before `now`, so clocks a little behind still accept it.
absl::StatusOr<KeyPair> Issue(const CertificateSpec& spec, const KeyPair& ca, absl::Time now);

// What renewal decisions and tests need to know about a certificate.
struct CertificateInfo {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // canonical text (inet_ntop)
  absl::Time not_before;
  absl::Time not_after;
  std::string serial_hex;
};

// A PKCS#10 certificate signing request (PEM) and its fresh P-256 key (PEM): what a node sends
// the CertificateSigningRequest API to get its client certificate.
struct CertificateRequest {
  std::string csr_pem;
  std::string key_pem;
};
absl::StatusOr<CertificateRequest> NewCertificateRequest(const std::string& common_name,
                                                         const std::vector<std::string>& organizations);

// What a request asks for; InvalidArgument unless it is a PEM CERTIFICATE REQUEST whose signature
// verifies with its own key.
struct RequestInfo {
  std::string common_name;
  std::vector<std::string> organizations;
  std::string key_type;  // EC, RSA, Ed25519, other
};
absl::StatusOr<RequestInfo> InspectCertificateRequest(const std::string& csr_pem);

// A certificate of `ca` for the request's key and subject (CN, O), with `usage`'s extended key
// usage; nothing else of the request is honoured.
absl::StatusOr<std::string> SignCertificateRequest(const std::string& csr_pem, const KeyPair& ca, Usage usage,
                                                   absl::Duration validity, absl::Time now);

// Reads the first certificate of a PEM text (a chain file starts with the leaf).
absl::StatusOr<CertificateInfo> Inspect(const std::string& cert_pem);

// True when the first certificate of `cert_pem` carries a valid signature by `ca_cert_pem`'s key.
bool SignedBy(const std::string& cert_pem, const std::string& ca_cert_pem);

// True when `key_pem` is the private key of the first certificate of `cert_pem`.
bool KeyMatches(const std::string& cert_pem, const std::string& key_pem);

}  // namespace berth::pki
