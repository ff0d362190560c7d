#include <filesystem>
#include <fstream>

#include "core/client/connection.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-kubeconfig-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

constexpr char kTwoContexts[] = R"(apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a:6443", certificate-authority: ca.pem}
- name: b
  cluster: {server: "https://b:6443", insecure-skip-tls-verify: true}
users:
- name: alice
  user: {tokenFile: tok}
- name: bob
  user: {token: bobtoken}
contexts:
- name: ca
  context: {cluster: a, user: alice}
- name: cb
  context: {cluster: b, user: bob}
current-context: ca
)";

TEST_F(KubeconfigTest, TheCurrentContextWithFilesRelativeToTheKubeconfig) {
  Write("ca.pem", "CA PEM");
  Write("tok", "alicetoken\n");
  auto c = LoadKubeconfig(Write("config", kTwoContexts));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://a:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->bearer_token, "alicetoken");
}

TEST_F(KubeconfigTest, AnotherContextAndAnInlineToken) {
  std::string text = kTwoContexts;
  text.replace(text.find("current-context: ca"), 19, "current-context: cb");
  auto c = LoadKubeconfig(Write("config", text));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://b:6443");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->bearer_token, "bobtoken");
}

TEST_F(KubeconfigTest, ClientCertificateFilesAreRememberedForRereadingAndDataIsNot) {
  Write("pair.pem", "CERT\nKEY\n");
  auto files = LoadKubeconfig(Write("files", R"(apiVersion: v1
kind: Config
clusters: [{name: a, cluster: {server: "https://a:6443"}}]
users: [{name: node, user: {client-certificate: pair.pem, client-key: pair.pem}}]
contexts: [{name: c, context: {cluster: a, user: node}}]
current-context: c
)"));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->client_cert_pem, "CERT\nKEY\n");
  EXPECT_EQ(files->client_cert_file, dir_ + "/pair.pem");
  EXPECT_EQ(files->client_key_file, dir_ + "/pair.pem");
  auto data = LoadKubeconfig(Write("data", R"(apiVersion: v1
kind: Config
clusters: [{name: a, cluster: {server: "https://a:6443"}}]
users:
- name: node
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts: [{name: c, context: {cluster: a, user: node}}]
current-context: c
)"));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->client_cert_pem, "CERT");
  EXPECT_EQ(data->client_cert_file, "");
}

TEST_F(KubeconfigTest, CredentialsBerthCannotUseAreRefusedByName) {
  auto c = LoadKubeconfig(Write("config", R"(clusters: [{name: a, cluster: {server: "https://a"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: c, context: {cluster: a, user: u}}]
current-context: c
)"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(c.status().message().find("users[u].exec is not supported"), std::string::npos) << c.status();
}

TEST_F(KubeconfigTest, MissingPiecesAreNamed) {
  auto no_context = LoadKubeconfig(Write("a", "clusters: []\ncurrent-context: x\n"));
  EXPECT_NE(no_context.status().message().find("context \"x\" not found"), std::string::npos) << no_context.status();
  auto missing_ca = LoadKubeconfig(Write("b", R"(clusters: [{name: a, cluster: {server: "https://a", certificate-authority: nope.pem}}]
contexts: [{name: c, context: {cluster: a}}]
current-context: c
)"));
  EXPECT_NE(missing_ca.status().message().find("certificate-authority"), std::string::npos) << missing_ca.status();
  EXPECT_EQ(LoadKubeconfig(dir_ + "/absent").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KubeconfigTest, ServerFlagOverridesTheKubeconfigAndOneOfThemIsRequired) {
  Write("ca.pem", "CA PEM");
  Write("tok", "t");
  auto c = ConnectionFromFlags(Write("config", kTwoContexts), "https://override:1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->server, "https://override:1");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  auto bare = ConnectionFromFlags("", "http://127.0.0.1:8080");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->bearer_token.empty());
  EXPECT_EQ(ConnectionFromFlags("", "").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::client
