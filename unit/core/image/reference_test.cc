#include "core/image/reference.h"

#include "gtest/gtest.h"

namespace berth::image {
namespace {

TEST(ImageReferenceTest, ParsesTheDistributionGrammar) {
  auto r = ParseReference("nginx");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Name(), "nginx");
  EXPECT_EQ(r->TagOrLatest(), "latest");
  EXPECT_TRUE(r->IsLatest());
  r = ParseReference("registry.k8s.io/pause:3.9");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "pause");
  EXPECT_EQ(r->domain, "registry.k8s.io");
  EXPECT_EQ(r->tag, "3.9");
  EXPECT_FALSE(r->IsLatest());
  r = ParseReference("localhost:5000/team/my_app__x-y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->domain, "localhost:5000");
  EXPECT_EQ(r->path, "team/my_app__x-y");
  EXPECT_TRUE(r->tag.empty());
  EXPECT_FALSE(r->IsLatest());
  r = ParseReference("docker.io/library/busybox:latest");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Name(), "docker.io/library/busybox");
  EXPECT_TRUE(r->IsLatest());
  // A first component without '.', ':' or localhost is a path, not a registry.
  r = ParseReference("team/app:v1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->domain, "");
  EXPECT_EQ(r->path, "team/app");
}

TEST(ImageReferenceTest, RefusesWhatTheGrammarRefuses) {
  for (const char* bad : {"", "Nginx", "nginx:", "nginx:-x", "a//b", "-a", "a-", "a..b", "../etc", "a:b:c",
                          "nginx@sha256:xyz", "nginx@sha256:", "a___b", "my.registry:99999999/x", ":tag", "a b"}) {
    EXPECT_FALSE(ParseReference(bad).ok()) << bad;
  }
  EXPECT_NE(ParseReference("Nginx").status().message().find("lowercase"), std::string_view::npos);
  EXPECT_FALSE(ParseReference(std::string(300, 'a')).ok());
  EXPECT_FALSE(ParseReference("a:" + std::string(129, 't')).ok());
}

}  // namespace
}  // namespace berth::image

namespace berth::image {
namespace {

std::string NormalizedOf(std::string_view ref) {
  auto r = ParseReference(ref);
  return r.ok() ? r->Normalized() : std::string(r.status().message());
}

TEST(ImageReferenceTest, NormalizesAsContainerdDoes) {
  EXPECT_EQ(NormalizedOf("nginx"), "docker.io/library/nginx:latest");
  EXPECT_EQ(NormalizedOf("nginx:1.27"), "docker.io/library/nginx:1.27");
  EXPECT_EQ(NormalizedOf("bitnami/redis"), "docker.io/bitnami/redis:latest");
  EXPECT_EQ(NormalizedOf("docker.io/nginx"), "docker.io/library/nginx:latest");
  EXPECT_EQ(NormalizedOf("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
  EXPECT_EQ(NormalizedOf("localhost:5000/app"), "localhost:5000/app:latest");
  std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(NormalizedOf("busybox@" + digest), "docker.io/library/busybox@" + digest);
  EXPECT_EQ(NormalizedOf("busybox:1@" + digest), "docker.io/library/busybox:1@" + digest);
  auto r = ParseReference("localhost:5000/team/app:v1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Registry(), "localhost:5000");
  EXPECT_EQ(r->Repository(), "team/app");
  EXPECT_EQ(r->WithDigest(digest), "localhost:5000/team/app@" + digest);
}

}  // namespace
}  // namespace berth::image
