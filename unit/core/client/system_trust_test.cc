// Deferred system trust: after DeferSystemTrustLoading() a new SSL context loads no CA file of
// its own (what cpprestsdk's per-connection contexts get), and AddSystemTrust() gives a context
// exactly the bundle OpenSSL's defaults named.

#include "core/client/system_trust.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/time/time.h"
#include "core/pki/certificates.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

int TrustedCount(SSL_CTX* ctx) {
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  return objects == nullptr ? 0 : sk_X509_OBJECT_num(objects);
}

TEST(SystemTrust, NewContextsLoadNoBundleUntilAskedAndThenTheRealOne) {
  // A bundle of two roots stands in for the system's (SSL_CERT_FILE is how OpenSSL is told).
  char tmpl[] = "/tmp/berth-system-trust-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto a = pki::NewCertificateAuthority("root-a", absl::Hours(1), absl::FromUnixSeconds(1800000000));
  auto b = pki::NewCertificateAuthority("root-b", absl::Hours(1), absl::FromUnixSeconds(1800000000));
  ASSERT_TRUE(a.ok() && b.ok());
  std::string bundle = dir + "/bundle.pem";
  std::ofstream(bundle) << a->cert_pem << b->cert_pem;
  setenv("SSL_CERT_FILE", bundle.c_str(), 1);

  SSL_CTX* before = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(SSL_CTX_set_default_verify_paths(before), 1);
  EXPECT_EQ(TrustedCount(before), 2) << "OpenSSL's defaults load the bundle";

  DeferSystemTrustLoading();
  EXPECT_STREQ(getenv("SSL_CERT_FILE"), "/dev/null");
  DeferSystemTrustLoading();  // a second call keeps the real bundle
  SSL_CTX* deferred = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(SSL_CTX_set_default_verify_paths(deferred), 1);  // what cpprestsdk does per connection
  EXPECT_EQ(TrustedCount(deferred), 0);
  AddSystemTrust(deferred);
  EXPECT_EQ(TrustedCount(deferred), 2);

  SSL_CTX_free(before);
  SSL_CTX_free(deferred);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::client
