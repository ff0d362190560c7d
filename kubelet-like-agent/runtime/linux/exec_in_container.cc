#include "kubelet-like-agent/runtime/linux/exec_in_container.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/strings/strings.h"

namespace berth::agent::runtime {
namespace {

int PidfdOpen(int64_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)); }

}  // namespace

absl::StatusOr<int> ExecInContainer(int64_t init_pid, const std::vector<std::string>& procs,
                                    const std::vector<std::string>& argv, absl::Duration timeout, const Clock& clock) {
  if (argv.empty()) return absl::InvalidArgumentError("exec: no command");
  const int64_t target = init_pid;
  // Prepared before fork: the child only makes system calls.
  std::vector<std::string> ns_paths;
  for (const char* ns : {"ipc", "uts", "net", "pid", "mnt"}) ns_paths.push_back(StrCat("/proc/", target, "/ns/", ns));
  std::vector<std::string> candidates;
  if (argv[0].find('/') != std::string::npos) {
    candidates.push_back(argv[0]);
  } else {
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
      candidates.push_back(StrCat(dir, "/", argv[0]));
    }
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env, nullptr};

  pid_t child = fork();
  if (child < 0) return absl::InternalError(StrCat("fork: ", std::strerror(errno)));
  if (child == 0) {
    int fds[5];
    for (size_t i = 0; i < 5; ++i) fds[i] = open(ns_paths[i].c_str(), O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; i < 5; ++i) {
      if (fds[i] < 0 || setns(fds[i], 0) != 0) _exit(125);
    }
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
    }
    pid_t grandchild = fork();  // enters the container's PID namespace
    if (grandchild == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (const std::string& c : candidates) execve(c.c_str(), cargs.data(), envp);
      _exit(127);
    }
    int status = 0;
    if (grandchild < 0 || waitpid(grandchild, &status, 0) < 0) _exit(125);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  // Join the container's cgroup so the probe counts against its limits.
  for (const std::string& p : procs) {
    int fd = open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string text = StrCat(child);
      if (write(fd, text.data(), text.size()) < 0) {
      }
      close(fd);
    }
  }
  // Wait on a pidfd with the time left (no polling loop), on the runtime's clock.
  auto deadline = clock.MonotonicNow() + absl::ToChronoMilliseconds(timeout);
  int pidfd = PidfdOpen(child);
  int status = 0;
  while (true) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0) {
      if (pidfd >= 0) close(pidfd);
      return absl::InternalError(StrCat("waitpid: ", std::strerror(errno)));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.MonotonicNow());
    if (left.count() <= 0) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      if (pidfd >= 0) close(pidfd);
      return absl::DeadlineExceededError(StrCat("exec ", argv[0], " timed out after ", absl::FormatDuration(timeout)));
    }
    // Readable once the child has exited; without a pidfd (old kernel), short naps.
    pollfd p{pidfd, POLLIN, 0};
    poll(&p, 1, static_cast<int>(pidfd >= 0 ? std::min<int64_t>(left.count(), 1000) : 2));
  }
  if (pidfd >= 0) close(pidfd);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 125) return absl::UnavailableError("cannot enter the container's namespaces");
  return code;
}

}  // namespace berth::agent::runtime
