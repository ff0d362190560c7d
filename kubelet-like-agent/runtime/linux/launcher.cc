#include "kubelet-like-agent/runtime/linux/launcher.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "core/strings/strings.h"
#include "kubelet-like-agent/init/init_spec.h"

namespace berth::agent::runtime {
namespace {

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
};

}  // namespace

absl::StatusOr<LaunchedInit> LaunchContainerInit(const ContainerSpec& spec, int run, const std::string& init_path,
                                                 const RootDirs& root,
                                                 const std::string& record_path, const std::string& stdin_path,
                                                 CgroupDriver& cgroups, std::optional<WaitingInit> spare,
                                                 InitZygote* zygote) {
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

  const std::string& cgroup = spec.id;
  CgroupLimits limits{spec.cpu_limit_millis, spec.cpu_request_millis, spec.memory_limit_bytes, spec.pids_limit};
  if (spare && !cgroups.ApplyLimits(cgroup, limits).ok()) {
    // A memory limit below what the spare already holds, say: a fresh init runs into it during
    // set-up and the report below says so.
    DiscardWaitingInit(*spare);
    spare.reset();
  }
  if (!spare) {
    if (auto dirs = cgroups.Create(cgroup, limits); !dirs.ok()) return dirs.status();
  }
  const int64_t oom_kills_at_start = cgroups.OomKills(cgroup);
  absl::StatusOr<WaitingInit> init = spare ? *spare : CloneWaitingInit(init_path, cgroups, cgroup, zygote);
  if (!init.ok()) {
    (void)cgroups.Remove(cgroup);
    return init.status();
  }
  const pid_t pid = static_cast<pid_t>(init->pid);
  int ready_read = init->ready;  // kept open for the exit notice when the start succeeds
  // If it died at its gate, the report below reads EOF and says how it ended.
  (void)ReleaseInit(*init, spec_fd, root.mount_fd);
  // The init builds the container now. Meanwhile the two files a start makes: on this
  // machine's ext4 a new inode costs 0.2-0.3 ms (more right after many were deleted). Neither
  // is on the init's path this way; the workload starts once the record file is handed over.
  // Whichever of the runtime and the init comes first creates the log (neither asks O_EXCL).
  int record_fd = closer.Add(open(record_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (record_fd < 0) {
    int err = errno;
    DiscardWaitingInit(*init);
    (void)cgroups.Remove(cgroup);
    return absl::UnavailableError(StrCat("record file ", record_path, ": ", std::strerror(err)));
  }
  if (!spec.log_path.empty()) {
    int log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd >= 0) close(log_fd);
  }
  (void)LetInitStartWorkload(*init, record_fd);
  // Wait for the init to build the container: "R", or "E<why>", or EOF if it died.
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(ready_read, buf, sizeof buf)) > 0) {
    report.append(buf, static_cast<size_t>(n));
    if (report[0] == 'R') break;  // the pipe stays open: its next byte says the exit is recorded
  }
  if (report.empty() || report[0] != 'R') {
    close(ready_read);
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
  return LaunchedInit{pid, cgroup, oom_kills_at_start, ready_read};

}

}  // namespace berth::agent::runtime
