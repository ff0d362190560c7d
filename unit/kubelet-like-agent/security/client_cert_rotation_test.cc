// The agent's client certificate rotation: when it renews (a fraction of the life left when the
// certificate was first seen, not from the backdated notBefore), that the credential file is
// replaced whole with the issued pair, and that a failure is retried and keeps the old one.

#include "kubelet-like-agent/security/client_cert_rotation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/pki/certificates.h"
#include "testing/fake_clock.h"

namespace berth::agent {
namespace {

class ClientCertRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("berth-rotation-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    file_ = (dir_ / "agent-client-current.pem").string();
    auto ca = pki::NewCertificateAuthority("test-client-ca", absl::Hours(24 * 365), clock_.Now());
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    Write(IssueNode(absl::Hours(10)));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A node client certificate valid for `validity` from now (its notBefore an hour back).
  pki::KeyPair IssueNode(absl::Duration validity) {
    pki::CertificateSpec spec;
    spec.common_name = "system:node:n1";
    spec.organizations = {"system:nodes"};
    spec.usage = pki::Usage::kClient;
    spec.validity = validity;
    auto issued = pki::Issue(spec, ca_, clock_.Now());
    EXPECT_TRUE(issued.ok());
    return *issued;
  }
  void Write(const pki::KeyPair& pair) {
    std::ofstream(file_) << pair.cert_pem << pair.key_pem;
  }
  std::string Read() {
    std::ifstream in(file_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  testing::FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::filesystem::path dir_;
  std::string file_;
  pki::KeyPair ca_;
};

TEST_F(ClientCertRotationTest, RenewsAtTheJitteredFractionOfTheLifeLeftAndReplacesTheFileWhole) {
  int issued = 0;
  pki::KeyPair next;
  ClientCertRotator rotator(
      file_,
      [&](const std::function<bool()>&) -> absl::StatusOr<pki::KeyPair> {
        ++issued;
        next = IssueNode(absl::Hours(10));
        return next;
      },
      clock_, absl::Seconds(30), [] { return 0.8; });
  // 80 % of the 10 h left, although notBefore (an hour back) would make it due after 7.2 h.
  EXPECT_EQ(rotator.Step(), clock_.Now() + absl::Hours(8));
  clock_.Advance(absl::Hours(7) + absl::Minutes(59));
  EXPECT_EQ(rotator.Step(), clock_.Now() + absl::Minutes(1));
  EXPECT_EQ(issued, 0);
  clock_.Advance(absl::Minutes(1));
  const absl::Time rotated = clock_.Now();
  EXPECT_EQ(rotator.Step(), rotated + absl::Hours(8));  // the new certificate's own schedule
  EXPECT_EQ(issued, 1);
  EXPECT_EQ(Read(), next.cert_pem + next.key_pem);
  EXPECT_EQ(std::filesystem::status(file_).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // Looking again before then changes nothing.
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(rotator.Step(), rotated + absl::Hours(8));
  EXPECT_EQ(issued, 1);
}

TEST_F(ClientCertRotationTest, AFailedRenewalIsRetriedAndKeepsTheCertificateInUse) {
  const std::string before = Read();
  int attempts = 0;
  ClientCertRotator rotator(
      file_,
      [&](const std::function<bool()>&) -> absl::StatusOr<pki::KeyPair> {
        ++attempts;
        return absl::PermissionDeniedError("certificate signing request node-csr-x was denied");
      },
      clock_, absl::Seconds(30), [] { return 0.7; });
  EXPECT_EQ(rotator.Step(), clock_.Now() + absl::Hours(7));  // first seen now
  clock_.Advance(absl::Hours(7));
  EXPECT_EQ(rotator.Step(), clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(Read(), before);
  clock_.Advance(absl::Seconds(30));
  rotator.Step();
  EXPECT_EQ(attempts, 2);
}

TEST_F(ClientCertRotationTest, AnUnreadableFileIsLookedAtAgainLater) {
  std::ofstream(file_) << "not a certificate";
  ClientCertRotator rotator(
      file_, [](const std::function<bool()>&) -> absl::StatusOr<pki::KeyPair> { return absl::InternalError("unused"); },
      clock_, absl::Seconds(30));
  EXPECT_FALSE(rotator.Deadline().ok());
  EXPECT_EQ(rotator.Step(), clock_.Now() + absl::Seconds(30));
}

}  // namespace
}  // namespace berth::agent
