#include "kubelet-like-agent/runtime/linux/init_zygote.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/strings/strings.h"
#include "kubelet-like-agent/init/descriptor_passing.h"

namespace berth::agent::runtime {
namespace {

struct ZygoteExec {
  int request;  // duplicated above 3, so the dup2 neither collides nor keeps close-on-exec
  const char* init_path;
};

// In the child of clone(CLONE_VM | CLONE_VFORK): system calls only, then exec or exit.
int ExecZygote(void* arg) {
  const ZygoteExec* z = static_cast<const ZygoteExec*>(arg);
  if (dup2(z->request, 3) < 0) _exit(126);
  setsid();
  char* argv[] = {const_cast<char*>(z->init_path), const_cast<char*>("zygote"), nullptr};
  execv(z->init_path, argv);
  _exit(126);
}

}  // namespace

absl::StatusOr<std::unique_ptr<InitZygote>> InitZygote::Start(const std::string& init_path) {
  int sv[2];
  // SEQPACKET: a request's byte and its descriptors, and each answer, arrive as one message.
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::InternalError(StrCat("socketpair for the init zygote: ", std::strerror(errno)));
  }
  ZygoteExec z{fcntl(sv[1], F_DUPFD_CLOEXEC, 64), init_path.c_str()};
  pid_t pid = -1;
  int clone_errno = 0;
  if (z.request >= 0) {
    constexpr size_t kStackSize = 64 * 1024;
    std::unique_ptr<char[]> stack(new char[kStackSize]);
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);  // no handler of ours may run in the child
    pid = clone(ExecZygote, stack.get() + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &z);
    clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  } else {
    clone_errno = errno;
  }
  close(sv[1]);
  if (z.request >= 0) close(z.request);
  if (pid < 0) {
    close(sv[0]);
    return absl::InternalError(StrCat("clone the init zygote: ", std::strerror(clone_errno)));
  }
  // A zygote that stops answering (stopped from outside, say) costs a start two seconds, once.
  timeval timeout{2, 0};
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return std::unique_ptr<InitZygote>(new InitZygote(pid, sv[0]));
}

InitZygote::~InitZygote() {
  close(socket_);
  // It holds nothing to clean up; one stopped or stuck would never read the end-of-file.
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

absl::StatusOr<pid_t> InitZygote::Clone(int report_fd, int gate_fd, int cgroup_dir_fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return absl::UnavailableError("the init zygote stopped answering");
  const int passed[3] = {report_fd, gate_fd, cgroup_dir_fd};
  ssize_t n = SendWithDescriptors(socket_, 1, passed, cgroup_dir_fd >= 0 ? 3 : 2);
  if (n != 1) {
    broken_ = true;
    return absl::UnavailableError(StrCat("the init zygote is gone: ", std::strerror(errno)));
  }
  int64_t answer = 0;
  while ((n = recv(socket_, &answer, sizeof answer, 0)) < 0 && errno == EINTR) {
  }
  if (n != sizeof answer) {
    broken_ = true;
    return absl::UnavailableError(n < 0 ? StrCat("the init zygote did not answer: ", std::strerror(errno))
                                        : "the init zygote is gone");
  }
  if (answer < 0) {
    return absl::InternalError(StrCat("the init zygote could not clone: ", std::strerror(static_cast<int>(-answer))));
  }
  clones_++;
  return static_cast<pid_t>(answer);
}

}  // namespace berth::agent::runtime
