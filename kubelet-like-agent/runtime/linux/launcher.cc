#include "kubelet-like-agent/runtime/linux/launcher.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/strings/strings.h"
#include "kubelet-like-agent/init/init_spec.h"

namespace berth::agent::runtime {
namespace {

// What the vfork-style child needs: descriptors already duplicated above the ones it fills, so
// no dup2 can clobber another's source or keep a close-on-exec flag (dup2(fd, fd) would).
struct LaunchFds {
  int ready, spec, record, gate;
  char* init_path;
};

// Runs in the child of clone(CLONE_VM | CLONE_VFORK): it shares the agent's memory while the
// calling thread is suspended, so it makes system calls only, then execs or exits.
int ExecInit(void* arg) {
  const LaunchFds* fds = static_cast<const LaunchFds*>(arg);
  if (dup2(fds->ready, 3) < 0 || dup2(fds->spec, kInitSpecFd) < 0 || dup2(fds->record, kExitRecordFd) < 0 ||
      dup2(fds->gate, kStartGateFd) < 0) {
    _exit(126);
  }
  setsid();
  char* argv[] = {fds->init_path, nullptr};
  execv(fds->init_path, argv);
  _exit(126);
}

// Closes what it holds when the launch returns, whichever way.
struct FdCloser {
  std::vector<int> fds;
  ~FdCloser() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int Add(int fd) {
    fds.push_back(fd);
    return fd;
  }
  void CloseNow(int fd) {
    for (int& held : fds) {
      if (held == fd && fd >= 0) {
        close(fd);
        held = -1;
      }
    }
  }
};

}  // namespace

absl::StatusOr<LaunchedInit> LaunchContainerInit(const ContainerSpec& spec, int run, const std::string& init_path,
                                                 const RootDirs& root,
                                                 const std::string& record_path, const std::string& stdin_path,
                                                 CgroupDriver& cgroups) {
  FdCloser closer;

  InitSpec init_spec;
  init_spec.argv = spec.argv;
  init_spec.env = spec.env;
  for (const Mount& m : spec.mounts) init_spec.mounts.push_back({m.source, m.target, m.read_only});
  init_spec.working_dir = spec.working_dir;
  init_spec.hostname = spec.hostname;
  init_spec.rootfs = spec.rootfs;
  if (!spec.image_layers.empty()) {
    std::string lower;
    for (const std::string& layer : spec.image_layers) lower += (lower.empty() ? "" : ":") + layer;
    if (!root.skeleton.empty()) lower += ":" + root.skeleton;  // the lowest
    init_spec.overlay_lower = lower;
    init_spec.overlay_upper = root.upper;
    init_spec.overlay_work = root.work;
    init_spec.rootfs = root.mount_point;
  }
  init_spec.read_only_rootfs = spec.read_only_rootfs;
  init_spec.privileged = spec.privileged;
  init_spec.capabilities = spec.capabilities;
  init_spec.seccomp_default = spec.seccomp_default;
  init_spec.no_new_privs = spec.no_new_privs;
  init_spec.supplemental_groups = spec.supplemental_groups;
  if (spec.image_layers.empty() && spec.rootfs.empty() && !spec.privileged) {
    init_spec.host_root = true;
    init_spec.rootfs = root.mount_point;
  }
  init_spec.network_namespace = spec.network_namespace && spec.netns_path.empty();
  init_spec.netns_path = spec.netns_path;
  init_spec.run_as_user = spec.run_as_user;
  init_spec.run_as_group = spec.run_as_group;
  init_spec.log_path = spec.log_path;
  if (spec.stdin) {
    init_spec.stdin_path = stdin_path;
    if (mkfifo(stdin_path.c_str(), 0600) != 0 && errno != EEXIST) {
      return absl::InternalError(StrCat("stdin FIFO ", stdin_path, ": ", std::strerror(errno)));
    }
  }
  init_spec.log_max_bytes = spec.log_max_bytes;
  init_spec.run = run;
  int spec_fd = closer.Add(memfd_create("berth-init-spec", MFD_CLOEXEC));
  std::string serialized = SerializeInitSpec(init_spec);
  if (spec_fd < 0 || write(spec_fd, serialized.data(), serialized.size()) != static_cast<ssize_t>(serialized.size())) {
    return absl::InternalError(StrCat("memfd for the init spec: ", std::strerror(errno)));
  }
  int record_fd = closer.Add(open(record_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (record_fd < 0) return absl::UnavailableError(StrCat("record file ", record_path, ": ", std::strerror(errno)));

  const std::string& cgroup = spec.id;
  CgroupLimits limits{spec.cpu_limit_millis, spec.cpu_request_millis, spec.memory_limit_bytes, spec.pids_limit};
  auto dirs = cgroups.Create(cgroup, limits);
  if (!dirs.ok()) return dirs.status();
  const int64_t oom_kills_at_start = cgroups.OomKills(cgroup);

  int gate[2], ready[2];
  if (pipe2(gate, O_CLOEXEC) != 0) return absl::InternalError(StrCat("pipe: ", std::strerror(errno)));
  closer.Add(gate[0]);
  int gate_write = closer.Add(gate[1]);
  if (pipe2(ready, O_CLOEXEC) != 0) return absl::InternalError(StrCat("pipe: ", std::strerror(errno)));
  int ready_read = closer.Add(ready[0]);
  closer.Add(ready[1]);
  // Sources above the targets (3..6), so the child's dup2s neither collide nor keep CLOEXEC.
  std::string init = init_path;
  LaunchFds fds{closer.Add(fcntl(ready[1], F_DUPFD_CLOEXEC, 64)), closer.Add(fcntl(spec_fd, F_DUPFD_CLOEXEC, 64)),
                closer.Add(fcntl(record_fd, F_DUPFD_CLOEXEC, 64)), closer.Add(fcntl(gate[0], F_DUPFD_CLOEXEC, 64)),
                init.data()};
  if (fds.ready < 0 || fds.spec < 0 || fds.record < 0 || fds.gate < 0) {
    return absl::InternalError(StrCat("descriptors for the init: ", std::strerror(errno)));
  }

  // clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: no copy of the agent's page tables (a
  // fork of a multi-threaded agent paid for every mapping), and the agent resumes once the init
  // is exec'd. Every signal is blocked across it: no handler of the agent's may run in the child.
  constexpr size_t kStackSize = 64 * 1024;
  std::unique_ptr<char[]> stack(new char[kStackSize]);
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  int flags = CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
              (spec.network_namespace && spec.netns_path.empty() ? CLONE_NEWNET : 0) | SIGCHLD;
  pid_t pid = clone(ExecInit, stack.get() + kStackSize, flags, &fds);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  // Only the init may hold the write end now: the read below sees EOF if it dies.
  for (int fd : {ready[1], fds.ready, fds.spec, fds.record, fds.gate}) closer.CloseNow(fd);
  if (pid < 0) {
    (void)cgroups.Remove(cgroup);
    return absl::InternalError(StrCat("clone: ", std::strerror(clone_errno)));
  }
  // The init waits at its gate until it is in the cgroup: nothing of the container runs outside.
  for (const std::string& procs : cgroups.ProcsFiles(cgroup)) {
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    std::string text = StrCat(pid);
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    int err = errno;
    if (fd >= 0) close(fd);
    if (!ok) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      (void)cgroups.Remove(cgroup);
      return absl::InternalError(StrCat("placing the container in ", procs, ": ", std::strerror(err)));
    }
  }
  char go = 1;
  if (write(gate_write, &go, 1) != 1) {
  }
  // Wait for the init to build the container: "R", or "E<why>", or EOF if it died.
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(ready_read, buf, sizeof buf)) > 0) report.append(buf, static_cast<size_t>(n));
  if (report.empty() || report[0] != 'R') {
    int init_status = 0;
    waitpid(pid, &init_status, 0);
    std::string why = report.size() > 1 ? report.substr(1) : "the container init exited during set-up";
    if (report.size() <= 1) {
      // Say what ended it: a limit too small to start a process in is the usual cause.
      if (!cgroup.empty() && cgroups.OomKills(cgroup) > oom_kills_at_start) {
        why = StrCat("the container was killed by the kernel's OOM killer while it was being set up: its memory limit (",
                     spec.memory_limit_bytes.value_or(0), " bytes) is too small to start a process");
      } else if (WIFSIGNALED(init_status)) {
        why = StrCat("the container init was killed by signal ", WTERMSIG(init_status), " during set-up");
      } else if (WIFEXITED(init_status)) {
        why = StrCat("the container init exited with code ", WEXITSTATUS(init_status), " during set-up");
      }
    }
    (void)cgroups.Remove(cgroup);
    return absl::FailedPreconditionError(StrCat("starting container ", spec.id, ": ", why));
  }
  return LaunchedInit{pid, cgroup, oom_kills_at_start};

}

}  // namespace berth::agent::runtime
