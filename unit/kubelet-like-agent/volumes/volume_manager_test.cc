// Volumes the agent writes for a pod, against an in-process apiserver that issues ServiceAccount
// tokens: the projected kube-api-access volume (token, ca.crt, namespace), the token renewed
// once 80% of its life has passed and not before, and file modes from defaultMode / items.
#include "kubelet-like-agent/volumes/volume_manager.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/jwt/jwt.h"
#include "core/json/codec.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"
#include "testing/test_apiserver.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;
namespace res = client::resources;

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int Mode(const fs::path& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

class VolumeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("berth-volumes-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "sa.key") << *jwt::NewRsaKeyPem(2048);
    apiserver::ApiServerOptions options;
    options.service_account_signing_key_file = (dir_ / "sa.key").string();
    auto t = testing::StartTestApiServer(options);
    ASSERT_TRUE(t.ok()) << t.status();
    server_ = std::move(t->server);
    api_ = std::move(t->api);
    VolumeManagerOptions vo;
    vo.clock = &clock_;
    volumes_ = std::make_unique<VolumeManager>(api_.get(), (dir_ / "pods").string(), "127.0.0.1", vo);
    ASSERT_TRUE(api_->Create(res::kServiceAccounts, "default", *json::Parse(R"({"metadata":{"name":"viewer"}})")).ok());
    ASSERT_TRUE(api_->Create(res::kConfigMaps, "default",
                             *json::Parse(R"({"metadata":{"name":"kube-root-ca.crt"},"data":{"ca.crt":"CA PEM"}})"))
                    .ok());
  }
  void TearDown() override {
    server_.reset();
    api_.reset();
    fs::remove_all(dir_);
  }

  json::Value CreatePod(const std::string& extra_spec = "") {
    auto made = api_->Create(res::kPods, "default",
                             *json::Parse(R"({"metadata":{"name":"p"},"spec":{"nodeName":"n1","serviceAccountName":"viewer",)" +
                                          extra_spec + R"("containers":[{"name":"c","image":"img"}]}})"));
    EXPECT_TRUE(made.ok()) << made.status();
    return *made;
  }

  fs::path dir_;
  testing::FakeClock clock_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::ApiClient> api_;
  std::unique_ptr<VolumeManager> volumes_;
};

TEST_F(VolumeManagerTest, ServiceAccountVolumeHoldsABoundTokenTheCaAndTheNamespace) {
  json::Value pod = CreatePod();
  std::string volume = pod.Get({"spec", "volumes"})->as_array().at(0).GetString({"name"});
  auto paths = volumes_->Prepare(pod);
  ASSERT_TRUE(paths.ok()) << paths.status();
  fs::path dir = paths->at(volume);
  EXPECT_EQ(Read(dir / "ca.crt"), "CA PEM");
  EXPECT_EQ(Read(dir / "namespace"), "default");
  std::string token = Read(dir / "token");
  auto decoded = jwt::Decode(token);
  ASSERT_TRUE(decoded.ok()) << token;
  EXPECT_EQ(decoded->claims.GetString({"kubernetes.io", "pod", "uid"}), pod.GetString({"metadata", "uid"}));
  EXPECT_EQ(decoded->claims.GetInt({"exp"}) - decoded->claims.GetInt({"iat"}), 3607);
  for (const char* f : {"token", "ca.crt", "namespace"}) EXPECT_EQ(Mode(dir / f), 0644) << f;  // defaultMode 420
  EXPECT_TRUE(volumes_->Cleanup(pod.GetString({"metadata", "uid"})).ok());
}

TEST_F(VolumeManagerTest, TheTokenIsRenewedAfterEightyPercentOfItsLife) {
  json::Value pod = CreatePod();
  std::string volume = pod.Get({"spec", "volumes"})->as_array().at(0).GetString({"name"});
  fs::path token_file = fs::path(volumes_->PodDir(pod.GetString({"metadata", "uid"}))) / "volumes" / volume / "token";
  ASSERT_TRUE(volumes_->Prepare(pod).ok());
  std::string first = Read(token_file);
  clock_.Advance(absl::Seconds(3607 * 79 / 100));
  ASSERT_TRUE(volumes_->Prepare(pod).ok());
  EXPECT_EQ(Read(token_file), first) << "renewed too early";
  clock_.Advance(absl::Seconds(3607 * 2 / 100));
  ASSERT_TRUE(volumes_->Prepare(pod).ok());
  std::string second = Read(token_file);
  EXPECT_NE(second, first);
  EXPECT_TRUE(jwt::Decode(second).ok());
  // A new agent (restart) asks again at once rather than trusting a file it did not write.
  EXPECT_TRUE(volumes_->Cleanup(pod.GetString({"metadata", "uid"})).ok());
  EXPECT_FALSE(fs::exists(token_file));
}

TEST_F(VolumeManagerTest, ModesComeFromDefaultModeAndItems) {
  ASSERT_TRUE(api_->Create(res::kSecrets, "default",
                           *json::Parse(R"({"metadata":{"name":"s"},"stringData":{"a":"1","b":"2"}})"))
                  .ok());
  json::Value pod = CreatePod(R"("automountServiceAccountToken":false,"volumes":[{"name":"s","secret":{"secretName":"s",)"
                              R"("defaultMode":256,"items":[{"key":"a","path":"a"},{"key":"b","path":"x/b","mode":384}]}}],)");
  auto paths = volumes_->Prepare(pod);
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(Mode(fs::path(paths->at("s")) / "a"), 0400);
  EXPECT_EQ(Mode(fs::path(paths->at("s")) / "x/b"), 0600);
  EXPECT_EQ(Read(fs::path(paths->at("s")) / "x/b"), "2");
}

TEST_F(VolumeManagerTest, AMissingServiceAccountIsAnErrorTheSyncRetries) {
  json::Value pod = CreatePod();
  ASSERT_TRUE(api_->Delete(res::kServiceAccounts, "default", "viewer").ok());
  auto paths = volumes_->Prepare(pod);
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().message(), "failed to fetch token: serviceaccounts \"viewer\" not found");
}

}  // namespace
}  // namespace berth::agent
