// The cgroup drivers' file protocol. This machine mounts the v1 controllers, so the v2 driver
// cannot be exercised with limits on its kernel: the limit files of both versions are checked
// against plain directories standing in for the hierarchies (the names and value formats the
// kernel documents), and the v2 driver's membership protocol (cgroup.procs, cgroup.events,
// rmdir) runs for real on the unified hierarchy when one is mounted.

#include "kubelet-like-agent/runtime/linux/cgroups.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "testing/slurp.h"
#include "testing/unified_cgroup.h"

namespace berth::agent::runtime {
namespace {

namespace fs = std::filesystem;
using berth::testing::OwnUnifiedCgroup;

using berth::testing::Slurp;

void Put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class CgroupFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "berth-cgroups-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  static CgroupLimits Limits() { return CgroupLimits{250, 100, 64 << 20, 50}; }
  std::string dir_;
};

TEST_F(CgroupFilesTest, V2WritesCpuMaxWeightMemoryAndPids) {
  auto driver = MakeCgroupV2Driver(dir_);
  EXPECT_EQ(driver->version(), "v2");
  auto dirs = driver->Create("c1", Limits());
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  ASSERT_EQ(*dirs, std::vector<std::string>{dir_ + "/c1"});
  EXPECT_EQ(Slurp(dir_ + "/c1/cpu.max"), "25000 100000");
  EXPECT_EQ(Slurp(dir_ + "/c1/cpu.weight"), std::to_string(CpuWeightFromShares(CpuShares(100))));
  EXPECT_EQ(Slurp(dir_ + "/c1/memory.max"), std::to_string(64 << 20));
  EXPECT_EQ(Slurp(dir_ + "/c1/memory.swap.max"), "0");
  EXPECT_EQ(Slurp(dir_ + "/c1/pids.max"), "50");
  EXPECT_EQ(driver->ProcsFiles("c1"), std::vector<std::string>{dir_ + "/c1/cgroup.procs"});
  EXPECT_EQ(driver->BirthDirectory("c1"), dir_ + "/c1");
  Put(dir_ + "/c1/memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n");
  EXPECT_EQ(driver->OomKills("c1"), 2);
  Put(dir_ + "/c1/cgroup.events", "populated 1\nfrozen 0\n");
  EXPECT_TRUE(driver->Populated("c1"));
  Put(dir_ + "/c1/cgroup.events", "populated 0\nfrozen 0\n");
  EXPECT_FALSE(driver->Populated("c1"));
}

TEST_F(CgroupFilesTest, V2LeavesUnsetLimitsAlone) {
  auto driver = MakeCgroupV2Driver(dir_);
  ASSERT_TRUE(driver->Create("plain", CgroupLimits{}).ok());
  for (const char* file : {"cpu.max", "cpu.weight", "memory.max", "pids.max"}) {
    EXPECT_FALSE(fs::exists(dir_ + "/plain/" + file)) << file;
  }
}

TEST_F(CgroupFilesTest, V1WritesQuotaSharesMemoryAndPidsInTheirHierarchies) {
  for (const char* c : {"cpu", "memory", "pids"}) fs::create_directories(dir_ + "/" + c);
  auto driver = MakeCgroupV1Driver({{"cpu", dir_ + "/cpu"}, {"memory", dir_ + "/memory"}, {"pids", dir_ + "/pids"}});
  EXPECT_EQ(driver->version(), "v1");
  auto dirs = driver->Create("c1", Limits());
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_EQ(dirs->size(), 3u);
  EXPECT_EQ(Slurp(dir_ + "/cpu/c1/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Slurp(dir_ + "/cpu/c1/cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(Slurp(dir_ + "/cpu/c1/cpu.shares"), "102");
  EXPECT_EQ(Slurp(dir_ + "/memory/c1/memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(Slurp(dir_ + "/pids/c1/pids.max"), "50");
  EXPECT_EQ(driver->ProcsFiles("c1").size(), 3u);
  EXPECT_EQ(driver->BirthDirectory("c1"), "");  // three hierarchies: no one place to be born in
  Put(dir_ + "/memory/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  EXPECT_EQ(driver->OomKills("c1"), 3);
}

TEST_F(CgroupFilesTest, V1RenamesInEveryHierarchyOrInNone) {
  for (const char* c : {"cpu", "memory", "pids"}) fs::create_directories(dir_ + "/" + c);
  auto driver = MakeCgroupV1Driver({{"cpu", dir_ + "/cpu"}, {"memory", dir_ + "/memory"}, {"pids", dir_ + "/pids"}});
  ASSERT_TRUE(driver->CanRename());
  ASSERT_TRUE(driver->Create("spare", CgroupLimits{}).ok());
  ASSERT_TRUE(driver->Rename("spare", "c1").ok());
  for (const char* c : {"cpu", "memory", "pids"}) {
    EXPECT_TRUE(fs::is_directory(dir_ + "/" + c + "/c1")) << c;
    EXPECT_FALSE(fs::exists(dir_ + "/" + c + "/spare")) << c;
  }
  ASSERT_TRUE(driver->ApplyLimits("c1", Limits()).ok());
  EXPECT_EQ(Slurp(dir_ + "/memory/c1/memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(Slurp(dir_ + "/pids/c1/pids.max"), "50");
  // A target that cannot be replaced in one hierarchy (it holds something): nothing moves.
  ASSERT_TRUE(driver->Create("spare", CgroupLimits{}).ok());
  fs::create_directories(dir_ + "/pids/busy/inside");
  absl::Status s = driver->Rename("spare", "busy");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("busy"), absl::string_view::npos) << s;
  for (const char* c : {"cpu", "memory", "pids"}) {
    EXPECT_TRUE(fs::is_directory(dir_ + "/" + c + "/spare")) << c;
  }
  EXPECT_FALSE(MakeCgroupV2Driver(dir_)->CanRename());
}

TEST(CpuSharesTest, FollowKubernetesAndTheKernelConversion) {
  EXPECT_EQ(CpuShares(0), 2);
  EXPECT_EQ(CpuShares(1000), 1024);
  EXPECT_EQ(CpuWeightFromShares(2), 1);
  EXPECT_EQ(CpuWeightFromShares(262144), 10000);
  EXPECT_EQ(CpuWeightFromShares(1024), 39);
}

TEST(CgroupV2KernelTest, PlacesAProcessSeesItPopulatedAndRemovesTheCgroupOnceEmpty) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  std::string own = OwnUnifiedCgroup();
  if (own.empty()) GTEST_SKIP() << "no cgroup2 hierarchy mounted here";
  std::string base = own + "/berth-unit-" + std::to_string(getpid());
  if (mkdir(base.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create a cgroup under " << own;
  auto driver = MakeCgroupV2Driver(base);
  ASSERT_TRUE(driver->Create("c", CgroupLimits{}).ok());
  EXPECT_FALSE(driver->Populated("c"));
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  ASSERT_GT(child, 0);
  {
    std::ofstream procs(driver->ProcsFiles("c")[0]);
    procs << child;
  }
  EXPECT_TRUE(driver->Populated("c"));
  EXPECT_NE(Slurp("/proc/" + std::to_string(child) + "/cgroup").find("berth-unit-"), std::string::npos);
  EXPECT_FALSE(driver->Remove("c").ok()) << "a cgroup with a process in it cannot go";
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (driver->Populated("c") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(driver->Populated("c"));
  EXPECT_TRUE(driver->Remove("c").ok());
  EXPECT_FALSE(fs::exists(base + "/c"));
  EXPECT_TRUE(driver->RemoveSubtree().ok());
  EXPECT_FALSE(fs::exists(base));
}

}  // namespace
}  // namespace berth::agent::runtime
