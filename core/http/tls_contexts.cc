#include "core/http/tls_contexts.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <functional>
#include <map>
#include <utility>

#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::http::internal {
namespace {

absl::StatusOr<std::shared_ptr<ssl::context>> BuildRelayClientContext(const RelayTls& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_verify_mode(ssl::verify_none, ec);
  ctx->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) return absl::FailedPreconditionError(StrCat("client certificate ", tls.cert_file, ": ", ec.message()));
  ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) return absl::FailedPreconditionError(StrCat("client key ", tls.key_file, ": ", ec.message()));
  return ctx;
}

}  // namespace

std::optional<PeerIdentity> VerifiedPeer(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  std::optional<PeerIdentity> out;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    PeerIdentity id;
    X509_NAME* name = X509_get_subject_name(cert);
    auto each = [name](int nid, const std::function<void(std::string)>& fn) {
      for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0; i = X509_NAME_get_index_by_NID(name, nid, i)) {
        unsigned char* utf8 = nullptr;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n >= 0) fn(std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(n)));
        OPENSSL_free(utf8);
      }
    };
    each(NID_commonName, [&id](std::string v) { id.common_name = std::move(v); });
    each(NID_organizationName, [&id](std::string v) { id.organizations.push_back(std::move(v)); });
    out = std::move(id);
  }
  X509_free(cert);
  return out;
}

absl::StatusOr<std::shared_ptr<ssl::context>> TlsContexts::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string stamp = Stamp();
  if (context_ != nullptr && stamp == stamp_) return context_;
  auto built = Build();
  if (!built.ok()) {
    if (context_ != nullptr) {
      BERTH_LOG(Warning, "http", "Keeping the previous TLS certificate", "error", built.status().ToString());
      return context_;
    }
    return built.status();
  }
  context_ = *std::move(built);
  stamp_ = stamp;
  return context_;
}

std::string TlsContexts::Stamp() const {
  std::string out;
  for (const std::string* f : {&options_.cert_file, &options_.key_file, &options_.client_ca_file}) {
    struct stat st {};
    if (!f->empty() && stat(f->c_str(), &st) == 0) {
      StrAppend(&out, st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_size, ":", st.st_ino, ";");
    } else {
      out += "-;";
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<ssl::context>> TlsContexts::Build() const {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                   ec);
  ctx->use_certificate_chain_file(options_.cert_file, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("TLS certificate ", options_.cert_file, ": ", ec.message()));
  ctx->use_private_key_file(options_.key_file, ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("TLS key ", options_.key_file, ": ", ec.message()));
  if (!options_.client_ca_file.empty()) {
    ctx->load_verify_file(options_.client_ca_file, ec);
    if (ec) return absl::InvalidArgumentError(StrCat("client CA ", options_.client_ca_file, ": ", ec.message()));
    // Asked for, not required: a client without a certificate stays anonymous (as
    // kube-apiserver's VerifyClientCertIfGiven); one with a bad certificate fails the handshake.
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    }
    static const unsigned char kSessionContext[] = "berth";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kSessionContext, sizeof kSessionContext - 1);
  }
  return ctx;
}

absl::StatusOr<std::shared_ptr<ssl::context>> RelayClientContext(const RelayTls& tls) {
  struct Cached {
    std::string stamp;
    std::shared_ptr<ssl::context> ctx;
  };
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, Cached>* cache = new std::map<std::pair<std::string, std::string>, Cached>();
  auto stamp_of = [](const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return std::string("missing");
    return StrCat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  };
  const std::string stamp = StrCat(stamp_of(tls.cert_file), "/", stamp_of(tls.key_file));
  std::lock_guard<std::mutex> lock(mu);
  Cached& entry = (*cache)[{tls.cert_file, tls.key_file}];
  if (entry.ctx && entry.stamp == stamp) return entry.ctx;
  auto built = BuildRelayClientContext(tls);
  if (!built.ok()) return built.status();
  entry = {stamp, *built};
  return entry.ctx;
}

}  // namespace berth::http::internal
