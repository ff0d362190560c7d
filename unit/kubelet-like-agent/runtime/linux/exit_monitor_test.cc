// ExitMonitor with real processes: a notice byte is reported as "recorded" before the process's
// own end, and a notice pipe that closes without its byte (an init killed before it recorded)
// reports nothing: the pidfd does, with the process gone.

#include "kubelet-like-agent/runtime/linux/exit_monitor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace berth::agent::runtime {
namespace {

class ExitMonitorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    monitor_.reset();
    for (int fd : {go_[1], notice_[0]}) {
      if (fd >= 0) close(fd);  // a child still waiting to be told reads end-of-file and exits
    }
  }
  // A child, watched as `id` with its notice pipe, that writes the notice byte (if `notice`)
  // when told (a byte on `go`), then stays until told again and exits.
  pid_t StartWatchedChild(const std::string& id, bool notice) {
    if (pipe(go_) != 0 || pipe(notice_) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
      char b;
      if (read(go_[0], &b, 1) != 1) _exit(1);
      if (notice && write(notice_[1], "X", 1) != 1) _exit(1);
      if (read(go_[0], &b, 1) != 1) _exit(1);
      _exit(0);
    }
    close(go_[0]);
    close(notice_[1]);
    EXPECT_TRUE(monitor_->Watch(id, pid, notice_[0]));
    notice_[0] = -1;  // the monitor owns it now
    return pid;
  }
  void Tell() { ASSERT_EQ(write(go_[1], "g", 1), 1); }
  std::vector<ExitMonitor::Ended> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.size() >= n; });
    return seen_;
  }
  // As the runtime does: a pidfd stays readable until unwatched.
  void OnEnded(const std::vector<ExitMonitor::Ended>& ended) {
    for (const ExitMonitor::Ended& e : ended) {
      if (e.init_gone) monitor_->Unwatch(e.id);
    }
    std::lock_guard<std::mutex> lock(mu_);
    seen_.insert(seen_.end(), ended.begin(), ended.end());
    cv_.notify_all();
  }

  int go_[2] = {-1, -1}, notice_[2] = {-1, -1};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ExitMonitor::Ended> seen_;
  // Last: stopped first, before what its handler uses.
  std::unique_ptr<ExitMonitor> monitor_ =
      std::make_unique<ExitMonitor>([this](const std::vector<ExitMonitor::Ended>& e) { OnEnded(e); });
};

TEST_F(ExitMonitorTest, ARecordedNoticeComesBeforeTheProcessIsGone) {
  pid_t pid = StartWatchedChild("c1", true);
  ASSERT_GT(pid, 0);
  Tell();
  std::vector<ExitMonitor::Ended> seen = WaitFor(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, "c1");
  EXPECT_FALSE(seen[0].init_gone);
  EXPECT_EQ(kill(pid, 0), 0) << "still running when its notice came";
  Tell();
  seen = WaitFor(2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[1].init_gone);
  EXPECT_EQ(waitpid(pid, nullptr, 0), pid);
}

TEST_F(ExitMonitorTest, ANoticePipeClosedWithoutItsByteReportsOnlyTheEnd) {
  pid_t pid = StartWatchedChild("c2", false);
  ASSERT_GT(pid, 0);
  kill(pid, SIGKILL);
  std::vector<ExitMonitor::Ended> seen = WaitFor(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, "c2");
  EXPECT_TRUE(seen[0].init_gone);
  EXPECT_EQ(waitpid(pid, nullptr, 0), pid);
}

}  // namespace
}  // namespace berth::agent::runtime
