#include "core/pki/cluster_pki.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "core/client/connection.h"
#include "core/pki/certificates.h"
#include "core/pki/private_files.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth::pki {
namespace {

class ClusterPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-pki-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    dir_ = root_ + "/tls";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string Read(const std::string& path) { return *ReadWholeFile(path); }
  int Mode(const std::string& path) {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_mode & 0777;
  }
  CertificateInfo Serving() { return *Inspect(Read(FilesIn(dir_).serving_cert)); }

  std::string root_, dir_;
  testing::FakeClock clock_;
  ServingNames names_{{"localhost", "kubernetes.default.svc"}, {"127.0.0.1", "::1"}};
};

bool Has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

TEST_F(ClusterPkiTest, FirstStartMakesPrivateCasAndAServingCertificateSignedByTheServerCa) {
  auto changes = EnsureClusterPki(dir_, names_, clock_);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->created, (std::vector<std::string>{"berth-server-ca", "berth-client-ca", "service-account",
                                                        "client-kube-apiserver", "serving-apiserver"}));
  ClusterPkiFiles f = FilesIn(dir_);
  EXPECT_EQ(Mode(dir_), 0700);
  for (const std::string& file : {f.server_ca_cert, f.server_ca_key, f.client_ca_cert, f.client_ca_key, f.serving_cert,
                                  f.serving_key, f.kubelet_client_cert, f.kubelet_client_key, f.service_account_key}) {
    EXPECT_EQ(Mode(file), 0600) << file;
  }
  EXPECT_NE(Read(f.service_account_key).find("BEGIN PRIVATE KEY"), std::string::npos) << "PKCS#8";
  // The apiserver's identity towards agents: a client certificate of client-ca.
  std::string kubelet_client = Read(f.kubelet_client_cert);
  EXPECT_TRUE(SignedBy(kubelet_client, Read(f.client_ca_cert)));
  EXPECT_TRUE(KeyMatches(kubelet_client, Read(f.kubelet_client_key)));
  EXPECT_EQ(Inspect(kubelet_client)->common_name, kKubeletClientUser);
  std::string serving = Read(f.serving_cert);
  EXPECT_TRUE(SignedBy(serving, Read(f.server_ca_cert)));
  EXPECT_FALSE(SignedBy(serving, Read(f.client_ca_cert)));
  EXPECT_TRUE(KeyMatches(serving, Read(f.serving_key)));
  CertificateInfo info = Serving();
  EXPECT_TRUE(Has(info.dns_names, "kubernetes.default.svc"));
  EXPECT_TRUE(Has(info.ip_addresses, "::1"));
  EXPECT_EQ(info.not_after - clock_.Now(), kLeafValidity);
  // The chain file carries the CA after the leaf.
  EXPECT_NE(serving.find(Read(f.server_ca_cert)), std::string::npos);
}

TEST_F(ClusterPkiTest, ASecondStartKeepsValidFiles) {
  ASSERT_TRUE(EnsureClusterPki(dir_, names_, clock_).ok());
  std::string serial = Serving().serial_hex;
  std::string ca = Read(FilesIn(dir_).server_ca_cert);
  clock_.Advance(absl::Hours(24 * 200));
  auto changes = EnsureClusterPki(dir_, names_, clock_);
  ASSERT_TRUE(changes.ok());
  EXPECT_TRUE(changes->created.empty());
  EXPECT_EQ(Serving().serial_hex, serial);
  EXPECT_EQ(Read(FilesIn(dir_).server_ca_cert), ca);
}

TEST_F(ClusterPkiTest, TheServingCertificateIsRenewedWithin90DaysOfExpiryUnderTheSameCa) {
  ASSERT_TRUE(EnsureClusterPki(dir_, names_, clock_).ok());
  std::string serial = Serving().serial_hex;
  std::string ca = Read(FilesIn(dir_).server_ca_cert);
  clock_.Advance(kLeafValidity - absl::Hours(24 * 89));
  auto changes = EnsureClusterPki(dir_, names_, clock_);
  ASSERT_TRUE(changes.ok());
  // Both leaves were issued together, so both are due together.
  EXPECT_EQ(changes->created, (std::vector<std::string>{"client-kube-apiserver", "serving-apiserver"}));
  EXPECT_EQ(changes->reason, "expires within 90 days");
  EXPECT_NE(Serving().serial_hex, serial);
  EXPECT_EQ(Read(FilesIn(dir_).server_ca_cert), ca);
  EXPECT_TRUE(SignedBy(Read(FilesIn(dir_).serving_cert), ca));
}

TEST_F(ClusterPkiTest, ANewSubjectAltNameReissuesTheServingCertificate) {
  ASSERT_TRUE(EnsureClusterPki(dir_, names_, clock_).ok());
  names_.ip_addresses.push_back("10.1.2.3");
  auto changes = EnsureClusterPki(dir_, names_, clock_);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->reason, "SAN 10.1.2.3 missing");
  EXPECT_TRUE(Has(Serving().ip_addresses, "10.1.2.3"));
}

TEST_F(ClusterPkiTest, AServingCertificateFromAnotherCaIsReplaced) {
  ASSERT_TRUE(EnsureClusterPki(dir_, names_, clock_).ok());
  auto other_ca = NewCertificateAuthority("other", kCaValidity, clock_.Now());
  ASSERT_TRUE(other_ca.ok());
  auto foreign = Issue({.common_name = "x", .dns_names = names_.dns_names, .ip_addresses = names_.ip_addresses,
                        .usage = Usage::kServer},
                       *other_ca, clock_.Now());
  ASSERT_TRUE(foreign.ok());
  ASSERT_TRUE(WritePrivateFile(FilesIn(dir_).serving_key, foreign->key_pem).ok());
  ASSERT_TRUE(WritePrivateFile(FilesIn(dir_).serving_cert, foreign->cert_pem).ok());
  auto changes = EnsureClusterPki(dir_, names_, clock_);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->reason, "not signed by server-ca");
  EXPECT_TRUE(SignedBy(Read(FilesIn(dir_).serving_cert), Read(FilesIn(dir_).server_ca_cert)));
}

TEST_F(ClusterPkiTest, ApiServerNamesCoverTheServiceIpTheListenAddressAndExtraSans) {
  ServingNames n = ApiServerNames("192.0.2.7", "10.96.0.1", {"api.example.com", "203.0.113.9"});
  for (const char* dns : {"localhost", "kubernetes", "kubernetes.default.svc.cluster.local", "api.example.com"}) {
    EXPECT_TRUE(Has(n.dns_names, dns)) << dns;
  }
  for (const char* ip : {"127.0.0.1", "::1", "192.0.2.7", "10.96.0.1", "203.0.113.9"}) {
    EXPECT_TRUE(Has(n.ip_addresses, ip)) << ip;
  }
}

TEST_F(ClusterPkiTest, AClientKubeconfigCarriesACertificateOfTheClientCaForTheUserAndGroups) {
  ASSERT_TRUE(EnsureClusterPki(dir_, names_, clock_).ok());
  auto client = IssueClientCertificate(dir_, "system:node:n1", {"system:nodes"}, clock_);
  ASSERT_TRUE(client.ok()) << client.status();
  auto text = ClientKubeconfig(dir_, "https://127.0.0.1:6443", "system:node:n1", *client);
  ASSERT_TRUE(text.ok());
  std::string path = root_ + "/node.kubeconfig";
  ASSERT_TRUE(WritePrivateFile(path, *text).ok());

  auto connection = client::LoadKubeconfig(path);
  ASSERT_TRUE(connection.ok()) << connection.status();
  EXPECT_EQ(connection->server, "https://127.0.0.1:6443");
  EXPECT_EQ(connection->ca_pem, Read(FilesIn(dir_).server_ca_cert));
  EXPECT_TRUE(connection->bearer_token.empty());
  EXPECT_TRUE(SignedBy(connection->client_cert_pem, Read(FilesIn(dir_).client_ca_cert)));
  EXPECT_FALSE(SignedBy(connection->client_cert_pem, Read(FilesIn(dir_).server_ca_cert)));
  EXPECT_TRUE(KeyMatches(connection->client_cert_pem, connection->client_key_pem));
  auto info = Inspect(connection->client_cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "system:node:n1");
  EXPECT_EQ(info->organizations, std::vector<std::string>{"system:nodes"});
}

TEST_F(ClusterPkiTest, NoClientCertificateWithoutTheClientCa) {
  auto client = IssueClientCertificate(dir_, "alice", {}, clock_);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::pki

namespace berth::pki {
namespace {

TEST(CertificateRequestTest, ARequestIsSignedForItsSubjectAndKeyOnly) {
  auto ca = NewCertificateAuthority("test-ca", absl::Hours(24), absl::Now());
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto request = NewCertificateRequest("system:node:n1", {"system:nodes"});
  ASSERT_TRUE(request.ok()) << request.status();
  auto info = InspectCertificateRequest(request->csr_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "system:node:n1");
  EXPECT_EQ(info->organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(info->key_type, "EC");
  auto cert = SignCertificateRequest(request->csr_pem, *ca, Usage::kClient, absl::Hours(1), absl::Now());
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_TRUE(SignedBy(*cert, ca->cert_pem));
  EXPECT_TRUE(KeyMatches(*cert, request->key_pem));
  auto issued = Inspect(*cert);
  EXPECT_EQ(issued->common_name, "system:node:n1");
  EXPECT_EQ(issued->organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_LE(issued->not_after - absl::Now(), absl::Hours(1));

  EXPECT_EQ(InspectCertificateRequest("garbage").status().message(), "PEM block type must be CERTIFICATE REQUEST");
  // A request whose body was changed after signing does not verify.
  std::string tampered = request->csr_pem;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(InspectCertificateRequest(tampered).ok());
}

}  // namespace
}  // namespace berth::pki
