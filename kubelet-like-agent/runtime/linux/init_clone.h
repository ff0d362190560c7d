#pragma once
// File: kubelet-like-agent/runtime/linux/init_clone.h
// The first half of a container start: berth-container-init cloned into new PID, UTS and IPC
// namespaces, placed in its cgroup, and waiting at its gate. It knows nothing of its container
// yet, so it can be made ahead of need (SpareInits). The second half, ReleaseInit, sends the
// spec through the gate, then LetInitStartWorkload the record file; the init makes its own mount
// namespace between the two (and a
// network namespace on request), so its view of the host's mounts is the one at release time:
// volumes the agent mounted after the clone are there.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kubelet-like-agent/runtime/linux/cgroups.h"
#include "kubelet-like-agent/runtime/linux/init_zygote.h"

namespace berth::agent::runtime {

struct WaitingInit {
  int64_t pid = 0;
  int gate = -1;   // the runtime's end of the gate (a socket: SCM_RIGHTS carries the spec, record and root)
  int ready = -1;  // read end of the set-up report: "R", "E<why>", or EOF if the init died
};

// Clones `init_path` and writes it to `cgroup`'s cgroup.procs files (the cgroup must exist).
// On failure nothing is left running.
// With a zygote, the init is its child (no exec), or cloned here if the zygote fails.
absl::StatusOr<WaitingInit> CloneWaitingInit(const std::string& init_path, CgroupDriver& cgroups,
                                             const std::string& cgroup, InitZygote* zygote = nullptr);

// Opens the gate halfway: hands over the spec (a memfd) and, when not -1, the root file system
// already mounted detached (SpareRoots: the init attaches it instead of mounting the spec's
// overlay). The init builds the container meanwhile, up to its workload's start, which waits
// for LetInitStartWorkload: the runtime's own side of the start (the record file, a new inode,
// which costs 0.1-1 ms on an ext4 without a journal) runs beside the init's instead of before it.
absl::Status ReleaseInit(WaitingInit& init, int spec_fd, int root_mount_fd = -1);

// The second half: hands over the record file (where the init writes how the workload ended)
// and closes the gate; the init starts the workload then. An init that died meanwhile says so
// on its report, not here.
absl::Status LetInitStartWorkload(WaitingInit& init, int record_fd);

// Asks a waiting init (a spare) to build its root file system ahead, up to pivot_root: the
// image's overlay (`root_mount_fd`, detached; the caller keeps its descriptor) attached at
// `rootfs`, with /dev and /proc. Returns once the init says it is done, or why not, or
// DeadlineExceeded after 5 s without an answer; on any error the init is of no use (discard
// it). A spec released to it afterwards must come without a root.
absl::Status PrepareInit(WaitingInit& init, const std::string& rootfs, const std::string& overlay_lower,
                         int root_mount_fd);

// Ends an init that will not be used (closing its gate ends it) and reaps it.
void DiscardWaitingInit(WaitingInit& init);

}  // namespace berth::agent::runtime
