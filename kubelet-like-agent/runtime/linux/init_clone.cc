#include "kubelet-like-agent/runtime/linux/init_clone.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/strings/strings.h"
#include "kubelet-like-agent/init/descriptor_passing.h"
#include "kubelet-like-agent/init/init_spec.h"

namespace berth::agent::runtime {
namespace {

// What the vfork-style child needs: descriptors already duplicated above the ones it fills, so
// no dup2 can clobber another's source or keep a close-on-exec flag (dup2(fd, fd) would).
struct CloneFds {
  int ready, gate;
  const char* init_path;
};

// Runs in the child of clone(CLONE_VM | CLONE_VFORK): it shares the agent's memory while the
// calling thread is suspended, so it makes system calls only, then execs or exits.
int ExecInit(void* arg) {
  const CloneFds* fds = static_cast<const CloneFds*>(arg);
  if (dup2(fds->ready, 3) < 0 || dup2(fds->gate, kStartGateFd) < 0) _exit(126);
  setsid();
  char* argv[] = {const_cast<char*>(fds->init_path), nullptr};
  execv(fds->init_path, argv);
  _exit(126);
}

void CloseIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<WaitingInit> CloneWaitingInit(const std::string& init_path, CgroupDriver& cgroups,
                                             const std::string& cgroup, InitZygote* zygote) {
  int gate[2], ready[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate) != 0) {
    return absl::InternalError(StrCat("socketpair: ", std::strerror(errno)));
  }
  if (pipe2(ready, O_CLOEXEC) != 0) {
    int err = errno;
    close(gate[0]);
    close(gate[1]);
    return absl::InternalError(StrCat("pipe: ", std::strerror(err)));
  }
  int clone_errno = 0;
  pid_t pid = -1;
  // On cgroup v2 the zygote's child is born in its cgroup (CLONE_INTO_CGROUP), so no write to
  // cgroup.procs moves it there afterwards (on v1, such a write now and then waits a whole RCU
  // grace period holding the cgroup mutex).
  bool born_in_cgroup = false;
  if (zygote != nullptr) {
    std::string birth = cgroups.BirthDirectory(cgroup);
    int cgroup_dir = birth.empty() ? -1 : open(birth.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    auto cloned = zygote->Clone(ready[1], gate[1], cgroup_dir);
    born_in_cgroup = cloned.ok() && cgroup_dir >= 0;
    // A kernel without CLONE_INTO_CGROUP: born in the zygote's cgroup, moved below.
    if (!cloned.ok() && cgroup_dir >= 0) cloned = zygote->Clone(ready[1], gate[1]);
    if (cgroup_dir >= 0) close(cgroup_dir);
    // Gone or failing: the init is cloned and exec'd here instead.
    if (cloned.ok()) {
      pid = *cloned;
      // The zygote's priority, not ours: a spare made at the lowest priority stays there.
      (void)setpriority(PRIO_PROCESS, static_cast<id_t>(pid), getpriority(PRIO_PROCESS, 0));
    }
  }
  CloneFds fds{-1, -1, init_path.c_str()};
  if (pid < 0) {
    // Sources above the targets (3 and 6), so the child's dup2s neither collide nor keep CLOEXEC.
    fds.ready = fcntl(ready[1], F_DUPFD_CLOEXEC, 64);
    fds.gate = fcntl(gate[1], F_DUPFD_CLOEXEC, 64);
    if (fds.ready >= 0 && fds.gate >= 0) {
      // clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: no copy of the agent's page tables (a
      // fork of a multi-threaded agent paid for every mapping), and the agent resumes once the
      // init is exec'd. Every signal is blocked across it: no handler of the agent's may run in
      // the child.
      constexpr size_t kStackSize = 64 * 1024;
      std::unique_ptr<char[]> stack(new char[kStackSize]);
      sigset_t all, saved;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &saved);
      pid = clone(ExecInit, stack.get() + kStackSize,
                  CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD, &fds);
      clone_errno = errno;
      pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    } else {
      clone_errno = errno;
    }
  }
  // Only the init may hold its ends now: the report's reader sees EOF if it dies, and it sees
  // EOF at its gate if we do.
  for (int fd : {ready[1], gate[1], fds.ready, fds.gate}) {
    if (fd >= 0) close(fd);
  }
  WaitingInit init{pid, gate[0], ready[0]};
  if (pid < 0) {
    CloseIfOpen(init.gate);
    CloseIfOpen(init.ready);
    return absl::InternalError(StrCat("clone: ", std::strerror(clone_errno)));
  }
  // The init waits at its gate until it is in the cgroup: nothing of the container runs outside.
  for (const std::string& procs : born_in_cgroup ? std::vector<std::string>{} : cgroups.ProcsFiles(cgroup)) {
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    std::string text = StrCat(pid);
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    int err = errno;
    if (fd >= 0) close(fd);
    if (!ok) {
      DiscardWaitingInit(init);
      return absl::InternalError(StrCat("placing the container in ", procs, ": ", std::strerror(err)));
    }
  }
  return init;
}

absl::Status ReleaseInit(WaitingInit& init, int spec_fd, int root_mount_fd) {
  const int passed[2] = {spec_fd, root_mount_fd};
  ssize_t n = SendWithDescriptors(init.gate, kGateSpec, passed, root_mount_fd >= 0 ? 2 : 1);
  int err = errno;
  if (n != 1) {
    CloseIfOpen(init.gate);
    return absl::UnavailableError(StrCat("the container init is gone: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status LetInitStartWorkload(WaitingInit& init, int record_fd) {
  ssize_t n = SendWithDescriptors(init.gate, kGateRecord, &record_fd, 1);
  int err = errno;
  CloseIfOpen(init.gate);
  if (n != 1) return absl::UnavailableError(StrCat("the container init is gone: ", std::strerror(err)));
  return absl::OkStatus();
}

absl::Status PrepareInit(WaitingInit& init, const std::string& rootfs, const std::string& overlay_lower,
                         int root_mount_fd) {
  InitSpec preparation;
  preparation.rootfs = rootfs;
  preparation.overlay_lower = overlay_lower;  // says "an image root"; the layers come mounted
  const std::string serialized = SerializeInitSpec(preparation);
  int spec_fd = memfd_create("berth-init-preparation", MFD_CLOEXEC);
  if (spec_fd < 0 || write(spec_fd, serialized.data(), serialized.size()) != static_cast<ssize_t>(serialized.size())) {
    int err = errno;
    if (spec_fd >= 0) close(spec_fd);
    return absl::InternalError(StrCat("memfd for the init's preparation: ", std::strerror(err)));
  }
  const int passed[2] = {spec_fd, root_mount_fd};
  ssize_t sent = SendWithDescriptors(init.gate, kGatePrepare, passed, 2);
  int err = errno;
  close(spec_fd);
  if (sent != 1) return absl::UnavailableError(StrCat("the container init is gone: ", std::strerror(err)));
  // "P", or "E<why>", or end-of-file if it died.
  std::string report;
  struct pollfd ready {init.ready, POLLIN, 0};
  char buf[512];
  while (true) {
    int polled = poll(&ready, 1, 5000);
    if (polled < 0 && errno == EINTR) continue;
    // A node too busy to give a spare's set-up any CPU for that long; the caller may try again.
    if (polled == 0) return absl::DeadlineExceededError("preparing a container's root ahead: no answer in 5 s");
    ssize_t n = polled > 0 ? read(init.ready, buf, report.empty() ? 1 : sizeof buf) : -1;  // "P" is all of a success
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
    if (report == "P") return absl::OkStatus();
  }
  return absl::UnavailableError(
      StrCat("preparing a container's root ahead: ", report.size() > 1 ? report.substr(1) : "the init did not answer"));
}

void DiscardWaitingInit(WaitingInit& init) {
  CloseIfOpen(init.gate);
  CloseIfOpen(init.ready);
  if (init.pid > 0) {
    kill(static_cast<pid_t>(init.pid), SIGKILL);
    while (waitpid(static_cast<pid_t>(init.pid), nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  init.pid = 0;
}

}  // namespace berth::agent::runtime
