#pragma once
// File: kubelet-like-agent/init/root_file_system.h
// The container's root file system, built by berth-container-init in its own mount namespace:
// the image's overlay (or the read-only host), a minimal /dev, /proc, /sys, runc's masked
// paths, the volumes, and pivot_root into it. Either all at once when the spec comes
// (SetUpFileSystem, EnterRootFileSystem), or for a prepared spare in two halves: the part no
// container decides ahead (PrepareFileSystem), the rest with the spec (OpenHostPaths,
// FinishPreparedFileSystem). A step that fails ends the init with its report (Die).

#include <string>
#include <vector>

#include "kubelet-like-agent/init/init_spec.h"
#include "kubelet-like-agent/init/log_writer.h"

namespace berth::agent::init {

// All of it but pivot_root, at spec.rootfs. `root_mount_fd`: the image's overlay already built
// and mounted nowhere (-1: mount it here).
void SetUpFileSystem(const InitSpec& spec, int root_mount_fd);

// The container's root becomes "/" and the host's goes: no host path resolves after this.
void EnterRootFileSystem(const InitSpec& spec);

// A spare init's head start (kGatePrepare, see init_spec.h): the container's root file system
// built before the container is known, up to and including pivot_root: our mount namespace,
// the image's overlay, /dev, /proc with its masked paths. What depends on the container comes
// with the spec (FinishPreparedFileSystem). The host's mount namespace stays reachable through
// a descriptor, for the host paths a start names.
struct PreparedRoot {
  bool ready = false;
  int host_mounts = -1, own_mounts = -1;
};

void PrepareFileSystem(const InitSpec& prep, int root_mount_fd, PreparedRoot& prepared);

// What a prepared root needs from the host's paths, opened there.
struct HostHandles {
  int netns = -1, stdin_fd = -1;
  std::vector<int> volumes;  // detached copies, in the spec's order
  std::vector<bool> volume_is_directory;
};

// The host paths a start names, opened from the host's mount namespace for a moment: the pod's
// network namespace, the stdin FIFO, the log's directory, and each volume as a detached copy of
// what is mounted there now (volumes the agent mounted after the spare was made are there).
void OpenHostPaths(const InitSpec& spec, const PreparedRoot& prepared, LogWriter& log, HostHandles& h);

// The rest of a prepared root, inside it: /sys of the container's network namespace (joined
// by now), its masked paths, the volumes, a read-only root.
void FinishPreparedFileSystem(const InitSpec& spec, HostHandles& h);

}  // namespace berth::agent::init
