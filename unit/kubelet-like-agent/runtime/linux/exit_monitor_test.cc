// ExitMonitor with real processes: a notice byte is reported as "recorded" before the process's
// own end, and a notice pipe that closes without its byte (an init killed before it recorded)
// reports nothing: the pidfd does, with the process gone.

#include "kubelet-like-agent/runtime/linux/exit_monitor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace berth::agent::runtime {
namespace {

class ExitMonitorTest : public ::testing::Test {
 protected:
  // A child that writes `notice` (if any) to the pipe when told (a byte on `go`), then exits.
  pid_t Child(bool notice) {
    ASSERT_RESULT(pipe(go_) == 0 && pipe(notice_) == 0);
    pid_t pid = fork();
    if (pid == 0) {
      char b;
      if (read(go_[0], &b, 1) != 1) _exit(1);
      if (notice && write(notice_[1], "X", 1) != 1) _exit(1);
      if (read(go_[0], &b, 1) != 1) _exit(1);  // stays until told again
      _exit(0);
    }
    close(go_[0]);
    close(notice_[1]);
    return pid;
  }
  void Tell() { ASSERT_EQ(write(go_[1], "g", 1), 1); }
  std::vector<ExitMonitor::Ended> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.size() >= n; });
    return seen_;
  }
  // As the runtime does: a pidfd stays readable until unwatched.
  void OnEnded(ExitMonitor& monitor, const std::vector<ExitMonitor::Ended>& ended) {
    for (const ExitMonitor::Ended& e : ended) {
      if (e.init_gone) monitor.Unwatch(e.id);
    }
    std::lock_guard<std::mutex> lock(mu_);
    seen_.insert(seen_.end(), ended.begin(), ended.end());
    cv_.notify_all();
  }
  static void ASSERT_RESULT(bool ok) { ASSERT_TRUE(ok); }

  int go_[2] = {-1, -1}, notice_[2] = {-1, -1};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ExitMonitor::Ended> seen_;
};

TEST_F(ExitMonitorTest, ARecordedNoticeComesBeforeTheProcessIsGone) {
  ExitMonitor* self = nullptr;
  ExitMonitor monitor([&](const std::vector<ExitMonitor::Ended>& e) { OnEnded(*self, e); });
  self = &monitor;
  pid_t pid = Child(true);
  ASSERT_TRUE(monitor.Watch("c1", pid, notice_[0]));
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
  close(go_[1]);
}

TEST_F(ExitMonitorTest, ANoticePipeClosedWithoutItsByteReportsOnlyTheEnd) {
  ExitMonitor* self = nullptr;
  ExitMonitor monitor([&](const std::vector<ExitMonitor::Ended>& e) { OnEnded(*self, e); });
  self = &monitor;
  pid_t pid = Child(false);
  ASSERT_TRUE(monitor.Watch("c2", pid, notice_[0]));
  kill(pid, SIGKILL);
  std::vector<ExitMonitor::Ended> seen = WaitFor(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, "c2");
  EXPECT_TRUE(seen[0].init_gone);
  EXPECT_EQ(waitpid(pid, nullptr, 0), pid);
  close(go_[1]);
}

}  // namespace
}  // namespace berth::agent::runtime
