// Certificates with OpenSSL 3's C API (Debian's libssl): keys are EC P-256 (what k3s uses, and
// the fastest handshake on this machine), signatures ECDSA-SHA256.

#include "core/pki/certificates.h"

#include <arpa/inet.h>

#include <memory>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/strings/strings.h"

namespace berth::pki {
namespace {

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

absl::Status OpenSslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return absl::InternalError(StrCat(what, ": ", text));
}

Owned<EVP_PKEY> NewKey() { return Owned<EVP_PKEY>(EVP_EC_gen("P-256")); }

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return OpenSslError("writing a private key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return OpenSslError("writing a certificate");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Owned<X509> ReadCert(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Owned<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Owned<EVP_PKEY> ReadKey(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Owned<EVP_PKEY>(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) return OpenSslError(StrCat("extension ", OBJ_nid2sn(nid)));
  return absl::OkStatus();
}

absl::Status AddSubjectAltNames(X509* cert, const CertificateSpec& spec) {
  if (spec.dns_names.empty() && spec.ip_addresses.empty()) return absl::OkStatus();
  Owned<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  for (const std::string& dns : spec.dns_names) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    ASN1_STRING_set(text, dns.data(), static_cast<int>(dns.size()));
    GENERAL_NAME_set0_value(name, GEN_DNS, text);
    sk_GENERAL_NAME_push(names.get(), name);
  }
  for (const std::string& ip : spec.ip_addresses) {
    unsigned char raw[16];
    int length = 0;
    if (inet_pton(AF_INET, ip.c_str(), raw) == 1) {
      length = 4;
    } else if (inet_pton(AF_INET6, ip.c_str(), raw) == 1) {
      length = 16;
    } else {
      return absl::InvalidArgumentError(StrCat("subjectAltName: \"", ip, "\" is not an IP address"));
    }
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_OCTET_STRING* octets = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(octets, raw, length);
    GENERAL_NAME_set0_value(name, GEN_IPADD, octets);
    sk_GENERAL_NAME_push(names.get(), name);
  }
  if (!X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT)) {
    return OpenSslError("subjectAltName");
  }
  return absl::OkStatus();
}

// A fresh certificate for `key` with a random 127-bit serial and the validity window.
absl::StatusOr<Owned<X509>> NewCertificate(EVP_PKEY* key, const CertificateSpec& spec, absl::Time now) {
  Owned<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return OpenSslError("serial number");
  serial[0] &= 0x7f;  // positive
  Owned<BIGNUM> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  int64_t start = absl::ToUnixSeconds(now - absl::Hours(1));
  int64_t end = absl::ToUnixSeconds(now + spec.validity);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(start));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(end));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (const std::string& org : spec.organizations) {
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(org.c_str()), -1,
                               -1, 0);
  }
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
  X509_set_pubkey(cert.get(), key);
  return cert;
}

absl::StatusOr<KeyPair> Finish(X509* cert, EVP_PKEY* key, EVP_PKEY* signer) {
  if (X509_sign(cert, signer, EVP_sha256()) == 0) return OpenSslError("signing");
  auto cert_pem = CertPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyPem(key);
  if (!key_pem.ok()) return key_pem.status();
  return KeyPair{*std::move(cert_pem), *std::move(key_pem)};
}

absl::Time AsTime(const ASN1_TIME* t) {
  struct tm parts = {};
  if (ASN1_TIME_to_tm(t, &parts) != 1) return absl::InfinitePast();
  return absl::FromUnixSeconds(timegm(&parts));
}

}  // namespace

absl::StatusOr<KeyPair> NewCertificateAuthority(const std::string& common_name, absl::Duration validity,
                                                absl::Time now) {
  Owned<EVP_PKEY> key = NewKey();
  if (!key) return OpenSslError("generating a P-256 key");
  CertificateSpec spec{.common_name = common_name, .usage = Usage::kCertificateAuthority, .validity = validity};
  auto cert = NewCertificate(key.get(), spec, now);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  return Finish(c, key.get(), key.get());
}

namespace {

// A leaf certificate of `ca` for `key`'s public half; `key_pem` is echoed in the answer.
absl::StatusOr<std::string> IssueFor(const CertificateSpec& spec, const KeyPair& ca, EVP_PKEY* key, absl::Time now) {
  Owned<X509> ca_cert = ReadCert(ca.cert_pem);
  Owned<EVP_PKEY> ca_key = ReadKey(ca.key_pem);
  if (!ca_cert || !ca_key) return absl::InvalidArgumentError("the CA certificate or key is not valid PEM");
  auto cert = NewCertificate(key, spec, now);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(ca_cert.get()));
  const char* eku = spec.usage == Usage::kServer ? "serverAuth" : "clientAuth";
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                            std::pair{NID_ext_key_usage, eku}, std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (absl::Status s = AddExtension(c, ca_cert.get(), nid, value); !s.ok()) return s;
  }
  if (absl::Status s = AddSubjectAltNames(c, spec); !s.ok()) return s;
  if (X509_sign(c, ca_key.get(), EVP_sha256()) == 0) return OpenSslError("signing");
  return CertPem(c);
}

struct ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};

std::vector<std::string> NameEntries(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0; i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n >= 0) out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  return out;
}

}  // namespace

absl::StatusOr<KeyPair> Issue(const CertificateSpec& spec, const KeyPair& ca, absl::Time now) {
  Owned<EVP_PKEY> key = NewKey();
  if (!key) return OpenSslError("generating a P-256 key");
  auto cert = IssueFor(spec, ca, key.get(), now);
  if (!cert.ok()) return cert.status();
  auto key_pem = KeyPem(key.get());
  if (!key_pem.ok()) return key_pem.status();
  return KeyPair{*std::move(cert), *std::move(key_pem)};
}

absl::StatusOr<CertificateRequest> NewCertificateRequest(const std::string& common_name,
                                                         const std::vector<std::string>& organizations) {
  Owned<EVP_PKEY> key = NewKey();
  if (!key) return OpenSslError("generating a P-256 key");
  std::unique_ptr<X509_REQ, ReqFree> req(X509_REQ_new());
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  for (const std::string& org : organizations) {
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key.get());
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) == 0) return OpenSslError("signing the request");
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509_REQ(bio.get(), req.get())) return OpenSslError("writing the request");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  auto key_pem = KeyPem(key.get());
  if (!key_pem.ok()) return key_pem.status();
  return CertificateRequest{std::string(data, static_cast<size_t>(n)), *std::move(key_pem)};
}

absl::StatusOr<RequestInfo> InspectCertificateRequest(const std::string& csr_pem) {
  Owned<BIO> bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  std::unique_ptr<X509_REQ, ReqFree> req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    ERR_clear_error();
    return absl::InvalidArgumentError("PEM block type must be CERTIFICATE REQUEST");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr || X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the request's signature does not verify with its own key");
  }
  RequestInfo info;
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  std::vector<std::string> cn = NameEntries(subject, NID_commonName);
  if (!cn.empty()) info.common_name = cn[0];
  info.organizations = NameEntries(subject, NID_organizationName);
  int type = EVP_PKEY_get_base_id(key);
  info.key_type = type == EVP_PKEY_EC ? "EC" : type == EVP_PKEY_RSA ? "RSA" : type == EVP_PKEY_ED25519 ? "Ed25519" : "other";
  return info;
}

absl::StatusOr<std::string> SignCertificateRequest(const std::string& csr_pem, const KeyPair& ca, Usage usage,
                                                   absl::Duration validity, absl::Time now) {
  auto info = InspectCertificateRequest(csr_pem);
  if (!info.ok()) return info.status();
  Owned<BIO> bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  std::unique_ptr<X509_REQ, ReqFree> req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return absl::InvalidArgumentError("PEM block type must be CERTIFICATE REQUEST");
  // Only the subject is taken from the request: extensions it asks for are not copied.
  CertificateSpec spec{.common_name = info->common_name, .organizations = info->organizations, .usage = usage,
                       .validity = validity};
  return IssueFor(spec, ca, X509_REQ_get0_pubkey(req.get()), now);
}

absl::StatusOr<CertificateInfo> Inspect(const std::string& cert_pem) {
  Owned<X509> cert = ReadCert(cert_pem);
  if (!cert) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  CertificateInfo info;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (n < 0) continue;
    std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
    if (nid == NID_commonName) info.common_name = value;
    if (nid == NID_organizationName) info.organizations.push_back(value);
  }
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  Owned<GENERAL_NAMES> owned_names(names);
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* s = name->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_STRING* s = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {0};
      int family = ASN1_STRING_length(s) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text)) info.ip_addresses.emplace_back(text);
    }
  }
  info.not_before = AsTime(X509_get0_notBefore(cert.get()));
  info.not_after = AsTime(X509_get0_notAfter(cert.get()));
  Owned<BIGNUM> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (char* hex = BN_bn2hex(serial.get())) {
    info.serial_hex = hex;
    OPENSSL_free(hex);
  }
  return info;
}

bool SignedBy(const std::string& cert_pem, const std::string& ca_cert_pem) {
  Owned<X509> cert = ReadCert(cert_pem);
  Owned<X509> ca = ReadCert(ca_cert_pem);
  if (!cert || !ca) {
    ERR_clear_error();
    return false;
  }
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  bool ok = ca_key != nullptr && X509_verify(cert.get(), ca_key) == 1;
  ERR_clear_error();
  return ok;
}

bool KeyMatches(const std::string& cert_pem, const std::string& key_pem) {
  Owned<X509> cert = ReadCert(cert_pem);
  Owned<EVP_PKEY> key = ReadKey(key_pem);
  bool ok = cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace berth::pki
