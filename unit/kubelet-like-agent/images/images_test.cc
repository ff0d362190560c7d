#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/strings/strings.h"
#include "gtest/gtest.h"
#include "kubelet-like-agent/images/digest.h"
#include "kubelet-like-agent/images/image_store.h"
#include "kubelet-like-agent/images/layer_unpacker.h"
#include "kubelet-like-agent/images/oci_manifest.h"
#include "kubelet-like-agent/images/registry_client.h"
#include "kubelet-like-agent/images/registry_config.h"
#include "unit/kubelet-like-agent/images/tar_writer.h"

namespace berth::agent::images {
namespace {

namespace fs = std::filesystem;
using testing::Tar;

std::string D(char c) { return "sha256:" + std::string(64, c); }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-images-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Write(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST(DigestTest, ChecksFormAndContent) {
  EXPECT_TRUE(IsSha256Digest(D('a')));
  EXPECT_FALSE(IsSha256Digest("sha256:" + std::string(64, 'A')));  // lowercase only
  EXPECT_FALSE(IsSha256Digest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Digest("sha512:" + std::string(64, 'a')));
  EXPECT_FALSE(IsSha256Digest("sha256:../../../../etc/passwd" + std::string(36, 'a')));
  EXPECT_EQ(Sha256Of("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  absl::Status s = CheckDigest("blob x", D('a'), D('b'));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), StrCat("blob x does not match its digest: expected ", D('a'), ", got ", D('b')));
}

TEST(ManifestTest, SelectsLinuxAmd64FromAnIndex) {
  std::string index = StrCat(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)",
                             R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")", D('1'),
                             R"(","size":10,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},)",
                             R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")", D('2'),
                             R"(","size":10,"platform":{"os":"linux","architecture":"amd64"}},)",
                             R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")", D('3'),
                             R"(","size":10,"platform":{"os":"unknown","architecture":"unknown"}}]})");
  auto m = ParseManifest(index, "");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->is_index);
  auto amd64 = SelectPlatform(*m, "linux", "amd64");
  ASSERT_TRUE(amd64.ok());
  EXPECT_EQ(amd64->digest, D('2'));
  auto arm64 = SelectPlatform(*m, "linux", "arm64");
  ASSERT_TRUE(arm64.ok());
  EXPECT_EQ(arm64->digest, D('1'));
  auto s390 = SelectPlatform(*m, "linux", "s390x");
  EXPECT_EQ(s390.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s390.status().message().find("offered: linux/arm64/v8, linux/amd64, unknown/unknown"), std::string::npos)
      << s390.status();
}

TEST(ManifestTest, ReadsDockerAndOciManifestsAndRefusesTheRest) {
  std::string docker = StrCat(R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)",
                              R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")", D('c'),
                              R"(","size":5},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")",
                              D('l'), R"(","size":7}]})");
  // 'l' is not hex: the digest is refused before it can name a file.
  EXPECT_EQ(ParseManifest(docker, "").status().code(), absl::StatusCode::kInvalidArgument);
  std::string good = docker;
  good.replace(good.find(D('l')), D('l').size(), D('e'));
  auto m = ParseManifest(good, "");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->is_index);
  EXPECT_EQ(m->config.digest, D('c'));
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 7);
  EXPECT_EQ(*LayerCompression(m->layers[0].media_type), "gzip");
  EXPECT_EQ(*LayerCompression("application/vnd.oci.image.layer.v1.tar+zstd"), "zstd");
  EXPECT_FALSE(LayerCompression("application/x-foo").ok());
  auto schema1 = ParseManifest(R"({"schemaVersion":1,"name":"x","fsLayers":[]})", "application/vnd.docker.distribution.manifest.v1+prettyjws");
  EXPECT_NE(schema1.status().message().find("schema 1 is not supported"), std::string::npos);
  EXPECT_FALSE(ParseManifest("not json", "").ok());
  EXPECT_FALSE(ParseManifest(R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":")" + D('c') +
                                 R"(","size":-1},"layers":[]})", "").ok());
}

TEST(ManifestTest, ImageConfigFields) {
  auto c = ParseImageConfig(R"({"os":"linux","architecture":"amd64","config":{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],
      "Env":["PATH=/bin","A=1"],"WorkingDir":"/app","User":"app:app"},"rootfs":{"type":"layers","diff_ids":[")" + D('1') + R"("]}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"echo hi"}));
  EXPECT_EQ(c->env.size(), 2u);
  EXPECT_EQ(c->working_dir, "/app");
  EXPECT_EQ(c->user, "app:app");
  EXPECT_EQ(c->diff_ids.size(), 1u);
  EXPECT_FALSE(ParseImageConfig(R"({"config":{"Cmd":"not a list"}})").ok());
  EXPECT_TRUE(ParseImageConfig("{}").ok());
}

TEST(LayerUnpackerTest, AppliesWhiteoutsAsOverlayDoes) {
  TempDir tmp;
  std::string archive = tmp.path() + "/layer.tar", into = tmp.path() + "/out";
  fs::create_directories(into);
  Write(archive, Tar({{"./etc/", '5', "", 0755},
                      {"./etc/.wh.removed", '0', ""},
                      {"./etc/kept", '0', "kept\n"},
                      {"./var/cache/.wh..wh..opq", '0', ""},
                      {"/abs/file", '0', "abs\n"},
                      {"bin/sh", '2', "busybox"},
                      {"bin/link", '1', "etc/kept"}}));
  auto stats = UnpackLayer(archive, into);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(Read(into + "/etc/kept"), "kept\n");
  EXPECT_EQ(Read(into + "/abs/file"), "abs\n");  // confined: "/" is the layer's root
  struct stat st;
  ASSERT_EQ(lstat((into + "/etc/removed").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  char value[8] = {0};
  EXPECT_EQ(getxattr((into + "/var/cache").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_EQ(std::string(value), "y");
  EXPECT_EQ(fs::read_symlink(into + "/bin/sh"), "busybox");
  ASSERT_EQ(stat((into + "/bin/link").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
}

TEST(LayerUnpackerTest, RefusesEntriesThatLeaveTheLayer) {
  TempDir tmp;
  std::string into = tmp.path() + "/out";
  fs::create_directories(into);
  Write(tmp.path() + "/dotdot.tar", Tar({{"../escaped", '0', "x"}}));
  EXPECT_FALSE(UnpackLayer(tmp.path() + "/dotdot.tar", into).ok());
  EXPECT_FALSE(fs::exists(tmp.path() + "/escaped"));
  // Through a symlink the layer itself planted: the link is replaced, never followed.
  Write(tmp.path() + "/symlink.tar", Tar({{"evil", '2', tmp.path()}, {"evil/planted", '0', "x"}}));
  (void)UnpackLayer(tmp.path() + "/symlink.tar", into);
  EXPECT_FALSE(fs::exists(tmp.path() + "/planted"));
  EXPECT_FALSE(fs::is_symlink(into + "/evil"));
  Write(tmp.path() + "/hardlink.tar", Tar({{"h", '1', "../../etc/passwd"}}));
  EXPECT_FALSE(UnpackLayer(tmp.path() + "/hardlink.tar", into).ok());
  Write(tmp.path() + "/garbage.tar", std::string(2000, 'x'));
  EXPECT_FALSE(UnpackLayer(tmp.path() + "/garbage.tar", into).ok());
  EXPECT_EQ(*CleanEntryPath("./a//b/./c/"), "a/b/c");
  EXPECT_EQ(*CleanEntryPath("./"), "");
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(store_.Open().ok()); }

  // An image of one layer holding `file`; its record.
  ImageRecord AddImage(const std::string& name, const std::string& file) {
    std::string layer = Tar({{file, '0', name}});
    std::string layer_digest = Sha256Of(layer);
    EXPECT_TRUE(store_.PutBlob(layer, layer_digest).ok());
    std::string config = StrCat(R"({"config":{"Cmd":["/bin/true"]},"marker":")", name, file, "\"}");
    std::string config_digest = Sha256Of(config);
    EXPECT_TRUE(store_.PutBlob(config, config_digest).ok());
    EXPECT_TRUE(store_.EnsureLayer(layer_digest).ok());
    ImageRecord r;
    r.id = config_digest;
    r.names = {name};
    r.layers = {layer_digest};
    r.size = 1000;
    r.last_used = 100;
    EXPECT_TRUE(store_.PutImage(r).ok());
    return r;
  }

  TempDir tmp_;
  ImageStore store_{tmp_.path() + "/store"};
};

TEST_F(ImageStoreTest, FindsByNameAndIdAndMovesTags) {
  ImageRecord a = AddImage("docker.io/library/a:1", "a.txt");
  auto found = store_.Find("docker.io/library/a:1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, a.id);
  EXPECT_EQ(found->config.cmd, (std::vector<std::string>{"/bin/true"}));
  EXPECT_TRUE(store_.Find(a.id).has_value());
  EXPECT_TRUE(store_.Find(std::string(DigestHex(a.id).substr(0, 12))).has_value());
  EXPECT_FALSE(store_.Find("docker.io/library/b:1").has_value());
  EXPECT_EQ(Read(store_.LowerDirs(a)[0] + "/a.txt"), "docker.io/library/a:1");
  // The tag moves to a newer image; the old one keeps its other names.
  ImageRecord newer = AddImage("docker.io/library/a:1", "b.txt");
  EXPECT_EQ(store_.Find("docker.io/library/a:1")->id, newer.id);
  EXPECT_TRUE(store_.Find(a.id)->names.empty());
  EXPECT_FALSE(store_.PutBlob("data", D('0')).ok());  // not its digest
}

TEST_F(ImageStoreTest, LeasedImagesSurviveRemovalAndCollection) {
  ImageRecord used = AddImage("docker.io/library/used:1", "u.txt");
  ImageRecord unused = AddImage("docker.io/library/unused:1", "n.txt");
  ASSERT_TRUE(store_.Lease("pod_c", used.id).ok());
  absl::Status refused = store_.Remove("docker.io/library/used:1");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_.FreeSpace(1 << 30, 1000), 1000);
  EXPECT_TRUE(store_.Find(used.id).has_value());
  EXPECT_FALSE(store_.Find(unused.id).has_value());
  EXPECT_FALSE(fs::exists(store_.LayerPath(unused.layers[0])));
  EXPECT_FALSE(store_.HasBlob(unused.layers[0]));
  EXPECT_TRUE(fs::exists(store_.LayerPath(used.layers[0])));
  // A young lease outlives a reconcile that does not list its container.
  store_.ReconcileLeases({});
  EXPECT_EQ(store_.FreeSpace(1 << 30, 1000), 0);
  store_.Release("pod_c");
  EXPECT_TRUE(store_.Remove("docker.io/library/used:1").ok());
  EXPECT_TRUE(store_.List().empty());
  EXPECT_EQ(store_.Remove("docker.io/library/used:1").code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageStoreTest, AnInterruptedPullLeavesNothingBehind) {
  ImageRecord kept = AddImage("docker.io/library/kept:1", "k.txt");
  // A pull that died after fetching a blob (unsynced, unrecorded) and sharing a kept layer.
  std::string orphan = Tar({{"o.txt", '0', "orphan"}});
  ASSERT_TRUE(store_.PutBlob(orphan, Sha256Of(orphan)).ok());
  ASSERT_TRUE(store_.EnsureLayer(Sha256Of(orphan)).ok());
  Write(tmp_.path() + "/store/leases/pull-999999999-1", Sha256Of(orphan) + "\n" + kept.layers[0]);
  ImageStore reopened(tmp_.path() + "/store");
  ASSERT_TRUE(reopened.Open().ok());
  EXPECT_FALSE(reopened.HasBlob(Sha256Of(orphan)));
  EXPECT_FALSE(fs::exists(reopened.LayerPath(Sha256Of(orphan))));
  EXPECT_TRUE(reopened.HasBlob(kept.layers[0])) << "a layer an image names stays";
  EXPECT_FALSE(fs::exists(tmp_.path() + "/store/leases/pull-999999999-1"));
}

TEST_F(ImageStoreTest, CollectionSkipsRecentlyUsedImages) {
  AddImage("docker.io/library/old:1", "o.txt");
  ImageRecord recent = AddImage("docker.io/library/recent:1", "r.txt");
  store_.Touch(recent.id, 500);
  EXPECT_EQ(store_.FreeSpace(1 << 30, 510, /*min_age_seconds=*/60), 1000);
  EXPECT_TRUE(store_.Find(recent.id).has_value());
}

TEST(RegistryConfigTest, EndpointsCredentialsAndRefusals) {
  auto config = ParseRegistryConfig(R"(
registries:
  "registry.example.com":
    mirrors: ["https://mirror.internal/"]
    username: robot
    password: pw
  "build.local:5000": {insecure: true}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  auto endpoints = config->EndpointsFor("registry.example.com");
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0].base_url, "https://mirror.internal");
  EXPECT_TRUE(endpoints[0].is_mirror);
  EXPECT_EQ(endpoints[1].base_url, "https://registry.example.com");
  EXPECT_EQ(config->CredentialsFor("registry.example.com").username, "robot");
  EXPECT_EQ(config->EndpointsFor("build.local:5000")[0].base_url, "http://build.local:5000");
  EXPECT_EQ(config->EndpointsFor("127.0.0.1:5000")[0].base_url, "http://127.0.0.1:5000");
  EXPECT_EQ(config->EndpointsFor("docker.io")[0].base_url, "https://registry-1.docker.io");
  auto typo = ParseRegistryConfig("registries:\n  x.io: {insecur: true}\n");
  EXPECT_NE(typo.status().message().find("unknown field registries.x.io.insecur"), std::string::npos) << typo.status();
  EXPECT_TRUE(IsLoopbackHost("localhost:5000"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1:5000"));
}

TEST(RegistryConfigTest, DockerConfigJson) {
  auto creds = ParseDockerConfigJson(R"({"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
      "http://localhost:5000/v2/":{"username":"u2","password":"p2"}}})");
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_EQ((*creds)["docker.io"].username, "user");
  EXPECT_EQ((*creds)["docker.io"].password, "pass");
  EXPECT_EQ((*creds)["localhost:5000"].password, "p2");
  EXPECT_FALSE(ParseDockerConfigJson(R"({"auths":{"x":{"auth":"not base64!"}}})").ok());
}

TEST(RegistryClientTest, ParsesAuthChallenges) {
  AuthChallenge c = ParseAuthChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull")");
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.realm, "https://auth.docker.io/token");
  EXPECT_EQ(c.service, "registry.docker.io");
  EXPECT_EQ(c.scope, "repository:library/nginx:pull");
  EXPECT_EQ(ParseAuthChallenge(R"(Basic realm="x")").scheme, "basic");
}

}  // namespace
}  // namespace berth::agent::images
