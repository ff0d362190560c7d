#include "core/client/system_trust.h"

#include <cstdlib>
#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace berth::client {
namespace {

// The CA file OpenSSL's defaults name, before DeferSystemTrustLoading() hid it.
std::string& SystemBundle() {
  static std::string path;
  return path;
}

}  // namespace

void DeferSystemTrustLoading() {
  const char* env = std::getenv(X509_get_default_cert_file_env());
  std::string real = env != nullptr && *env != '\0' ? env : X509_get_default_cert_file();
  if (real == "/dev/null") return;  // already deferred
  SystemBundle() = real;
  setenv(X509_get_default_cert_file_env(), "/dev/null", 1);
}

void AddSystemTrust(ssl_ctx_st* ctx) {
  const std::string& bundle = SystemBundle();
  if (bundle.empty()) return;  // not deferred: the context loaded the defaults itself
  X509_STORE_load_file(SSL_CTX_get_cert_store(ctx), bundle.c_str());
  ERR_clear_error();  // a missing bundle leaves the hashed directory to verify with
}

}  // namespace berth::client
