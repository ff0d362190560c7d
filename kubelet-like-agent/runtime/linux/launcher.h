#pragma once
// File: kubelet-like-agent/runtime/linux/launcher.h
// Starts a container's init (berth-container-init) in new PID, mount, UTS, IPC (and network)
// namespaces and in its own cgroups: a spare init when one is ready, else one cloned now
// (init_clone.h). The spec goes over a memfd through the init's gate, and the launch returns
// once the init reports that the container is built ("R") or why it is not.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "kubelet-like-agent/runtime/linux/cgroups.h"
#include "kubelet-like-agent/runtime/linux/spare_inits.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent::runtime {

struct LaunchedInit {
  int64_t pid = 0;                 // the init, PID 1 of the container
  std::string cgroup;              // created with the spec's limits
  int64_t oom_kills_at_start = 0;  // the cgroup's OOM kill count before anything ran
  // Read end of the init's report pipe, which stays open: one byte once the container's exit
  // is recorded (ExitMonitor's notice). The caller owns it.
  int notice_fd = -1;
};

// Where a container's root file system is put together: the writable layer of an image root
// (empty for other roots), and the directory the root is mounted on in the container's mount
// namespace.
struct RootDirs {
  std::string upper, work;
  std::string mount_point;
  std::string skeleton;  // MountPointSkeleton: below an image's layers
  // The image's overlay over `upper` and `work`, already built and mounted nowhere (a spare
  // root): handed to the init, which attaches it. -1: the init mounts the overlay itself. The
  // caller keeps ownership.
  int mount_fd = -1;
};

// Launches run number `run` of `spec`. The init writes its exit record into `record_path`.
// On failure nothing is left behind (no process, no cgroup), and the error says why: the init's
// own report, or the OOM kill, signal or exit code that ended it during set-up. `spare`: a
// spare init already taken into the container's cgroup (SpareInits::Take), used unless the
// limits cannot be applied to it; else one is cloned now, by `zygote` if not null (else
// exec'd here). A spare prepared for the image has its root: `root.mount_fd` is then -1, and
// `root.upper` and `root.work` are its writable layer, which a fresh init mounts over instead
// if the spare cannot be used.
absl::StatusOr<LaunchedInit> LaunchContainerInit(const ContainerSpec& spec, int run, const std::string& init_path,
                                                 const RootDirs& root,
                                                 const std::string& record_path, const std::string& stdin_path,
                                                 CgroupDriver& cgroups, std::optional<WaitingInit> spare,
                                                 InitZygote* zygote);

}  // namespace berth::agent::runtime
