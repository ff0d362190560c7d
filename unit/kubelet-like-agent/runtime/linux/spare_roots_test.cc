// SpareRoots on this machine's kernel (root, overlayfs): roots made ahead per image, handed out
// mounted nowhere, and those of an image no longer among the recent ones removed by the thread.

#include "kubelet-like-agent/runtime/linux/spare_roots.h"
#include "kubelet-like-agent/runtime/linux/records.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "gtest/gtest.h"
#include "testing/slurp.h"

namespace berth::agent::runtime {
namespace {

namespace fs = std::filesystem;

class SpareRootsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount overlays";
    std::string tmpl = (fs::temp_directory_path() / "berth-spare-roots-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    fs::create_directories(WritableLayerUpper(dir_, ""));
    fs::create_directories(WritableLayerWork(dir_, ""));
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Layer(const std::string& name) {
    std::string layer = dir_ + "/" + name;
    fs::create_directories(layer);
    std::ofstream(layer + "/marker") << name << "\n";
    return layer;
  }
  size_t LayersOnDisk() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(WritableLayerUpper(dir_, ""))) ++n;
    return n;
  }
  static bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 2000 && !done(); ++i) usleep(5000);
    return done();
  }
  std::string dir_;
};

TEST_F(SpareRootsTest, HandsOutARootOfTheImageAndDropsThoseOfImagesNoLongerRecent) {
  const std::vector<std::string> a = {Layer("a")}, b = {Layer("b")};
  SpareRoots roots(dir_, /*per_image=*/1, /*images=*/1);
  EXPECT_FALSE(roots.Take(a).has_value()) << "nothing is made before the image is started once";
  ASSERT_TRUE(WaitFor([&] { return roots.ready() == 1; }));
  std::optional<PreparedRoot> root = roots.Take(a);
  ASSERT_TRUE(root.has_value());
  // Attached where we like, it is the image over a fresh writable layer.
  const std::string target = dir_ + "/mnt";
  fs::create_directories(target);
  ASSERT_EQ(move_mount(root->mount_fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH), 0) << std::strerror(errno);
  close(root->mount_fd);
  EXPECT_EQ(berth::testing::Slurp(target + "/marker"), "a\n");
  std::ofstream(target + "/written") << "x";
  EXPECT_TRUE(fs::exists(WritableLayerUpper(dir_, root->layer) + "/written"));
  ASSERT_EQ(umount2(target.c_str(), 0), 0);
  // Another image now: the one made again for "a" is dropped, by the thread, and its layer goes.
  ASSERT_TRUE(WaitFor([&] { return roots.ready() == 1; }));
  EXPECT_FALSE(roots.Take(b).has_value());
  ASSERT_TRUE(WaitFor([&] { return roots.ready() == 1 && LayersOnDisk() == 2; }))
      << "the taken root's layer and one ready for b; ready " << roots.ready() << ", on disk " << LayersOnDisk();
  std::optional<PreparedRoot> for_b = roots.Take(b);
  ASSERT_TRUE(for_b.has_value());
  close(for_b->mount_fd);
}

}  // namespace
}  // namespace berth::agent::runtime
