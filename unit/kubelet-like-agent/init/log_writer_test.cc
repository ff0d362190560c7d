#include "kubelet-like-agent/init/log_writer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "testing/slurp.h"
#include "kubelet-like-agent/init/init_spec.h"
#include "kubelet-like-agent/logs/log_server.h"

namespace berth::agent {
namespace {

using berth::testing::Slurp;

class LogWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("berth-logwriter-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(LogWriterTest, WritesCriLinesSplittingPartialsAndRotatesBySize) {
  std::string path = dir_ + "/0.log";
  LogWriter w(path, 200);
  ASSERT_TRUE(w.Open());
  w.Write("stdout", "hel", "T1");
  w.Write("stdout", "lo\nwor", "T2");
  w.Write("stderr", "oops\n", "T3");
  w.Flush("stdout", "T4");
  EXPECT_EQ(Slurp(path), "T2 stdout F hello\nT3 stderr F oops\nT4 stdout F wor\n");
  for (int i = 0; i < 20; ++i) w.Write("stdout", "0123456789\n", "T5");
  EXPECT_TRUE(std::filesystem::exists(path + ".1")) << "rotated past 200 bytes";
  EXPECT_LT(std::filesystem::file_size(path), 200u);
  // Reading back goes through the current file and the one rotated before it (older ones go,
  // as the kubelet keeps a bounded number of files).
  LogQuery q;
  std::string all = RenderLog(path, q, nullptr);
  EXPECT_EQ(all.substr(0, 11), "0123456789\n");
  EXPECT_GT(all.size(), 200u - 60u);
  q.tail_lines = 2;
  q.timestamps = true;
  EXPECT_EQ(RenderLog(path, q, nullptr), "T5 0123456789\nT5 0123456789\n");
}

TEST_F(LogWriterTest, RotatesInItsDirectoryAfterTheHostPathStopsResolving) {
  // The init opens the log before pivot_root, and rotates from inside the container's root.
  std::filesystem::create_directories(dir_ + "/pod");
  LogWriter w(dir_ + "/pod/0.log", 100);
  ASSERT_TRUE(w.Open());
  std::filesystem::rename(dir_ + "/pod", dir_ + "/moved");  // the old path resolves no more
  for (int i = 0; i < 12; ++i) w.Write("stdout", "0123456789\n", "T");
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/moved/0.log.1")) << "rotated in the same directory";
  EXPECT_GT(std::filesystem::file_size(dir_ + "/moved/0.log"), 0u) << "and went on writing there";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pod"));
}

TEST(InitSpecTest, RoundTripsEveryField) {
  InitSpec s;
  s.argv = {"sh", "-c", "echo a\nb"};
  s.env = {"A=1", "EMPTY="};
  s.mounts = {{"/src", "/dst", true}, {"/x", "/y", false}};
  s.hostname = "h";
  s.rootfs = "/r";
  s.run_as_user = 1000;
  s.run = 3;
  InitSpec back;
  ASSERT_TRUE(ParseInitSpec(SerializeInitSpec(s), back));
  EXPECT_EQ(back.argv, s.argv);
  EXPECT_EQ(back.env, s.env);
  ASSERT_EQ(back.mounts.size(), 2u);
  EXPECT_TRUE(back.mounts[0].read_only);
  EXPECT_EQ(back.mounts[1].target, "/y");
  EXPECT_EQ(*back.run_as_user, 1000u);
  EXPECT_FALSE(back.run_as_group.has_value());
  EXPECT_EQ(back.run, 3);
  EXPECT_FALSE(ParseInitSpec(std::string("argv\0x", 6), back)) << "a truncated record is refused";
}

}  // namespace
}  // namespace berth::agent
