#include "kubelet-like-agent/sync/image_process.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using V = std::vector<std::string>;

TEST(ImageProcessTest, CommandAndArgsFollowKubernetesRules) {
  V entrypoint = {"/ep"}, cmd = {"c1", "c2"}, command = {"/cmd"}, args = {"a1"};
  EXPECT_EQ(ResolveArgv(nullptr, nullptr, entrypoint, cmd), (V{"/ep", "c1", "c2"}));
  EXPECT_EQ(ResolveArgv(&command, nullptr, entrypoint, cmd), (V{"/cmd"}));  // Cmd is dropped too
  EXPECT_EQ(ResolveArgv(nullptr, &args, entrypoint, cmd), (V{"/ep", "a1"}));
  EXPECT_EQ(ResolveArgv(&command, &args, entrypoint, cmd), (V{"/cmd", "a1"}));
  EXPECT_EQ(ResolveArgv(nullptr, nullptr, {}, cmd), (V{"c1", "c2"}));
}

TEST(ImageProcessTest, ContainerEnvOverridesTheImage) {
  EXPECT_EQ(MergeEnv({"PATH=/bin", "A=image"}, {"A=pod", "B=pod"}), (V{"PATH=/bin", "A=pod", "B=pod"}));
}

TEST(ImageProcessTest, ImageUserByNumberOrName) {
  char tmpl[] = "/tmp/berth-image-user-XXXXXX";
  std::string top = mkdtemp(tmpl);
  std::filesystem::create_directories(top + "/etc");
  std::ofstream(top + "/etc/passwd") << "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n";
  std::ofstream(top + "/etc/group") << "root:x:0:\nstaff:x:50:\n";
  ImageUser u = ResolveImageUser("app", {top});
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1001u);
  u = ResolveImageUser("app:staff", {top});
  EXPECT_EQ(u.gid, 50u);
  u = ResolveImageUser("42:7", {top});
  EXPECT_EQ(u.uid, 42u);
  EXPECT_EQ(u.gid, 7u);
  u = ResolveImageUser("nobody", {top});
  EXPECT_FALSE(u.uid.has_value());
  EXPECT_EQ(u.unresolved_name, "nobody");
  EXPECT_FALSE(ResolveImageUser("", {top}).uid.has_value());
  std::filesystem::remove_all(top);
}

}  // namespace
}  // namespace berth::agent
