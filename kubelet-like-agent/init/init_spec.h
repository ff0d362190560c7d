#pragma once
// File: kubelet-like-agent/init/init_spec.h
// What LinuxRuntime tells berth-container-init: written by the agent, read by the init. A flat
// NUL-separated format ("key\0value\0" records; lists repeat their key) rather than JSON, so the
// init links statically against nothing but libc and libstdc++ — it starts with every
// container, and dynamic loading was a tenth of a launch's cost.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::agent {

struct InitMount {
  std::string source, target;
  bool read_only = false;
};

struct InitSpec {
  std::vector<std::string> argv, env;
  std::vector<InitMount> mounts;
  std::string working_dir, hostname, rootfs, log_path;
  // When set, the init mounts an overlay of these (lowerdir, colon-separated) at `rootfs`
  // inside the container's mount namespace: it goes away with the namespace.
  std::string overlay_lower, overlay_upper, overlay_work;
  bool read_only_rootfs = false;
  // Hardening (containerd's defaults unless privileged): the capability numbers the workload
  // keeps, a minimal /dev, masked kernel paths, seccomp, no_new_privs. `host_root`: image host
  // seen through a read-only bind of "/" at `rootfs` with private /tmp and /run.
  bool privileged = false;
  std::vector<int> capabilities;
  bool no_new_privs = false;
  bool seccomp_default = false;
  bool host_root = false;
  std::vector<uint32_t> supplemental_groups;
  std::string stdin_path;  // a FIFO the main process reads as stdin (attach writes to it); "" -> /dev/null
  bool network_namespace = false;
  // The pod's network namespace (a pinned file): the init joins it before anything else.
  std::string netns_path;
  std::optional<uint32_t> run_as_user, run_as_group;
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int64_t run = 0;  // echoed in the exit record, so a record of an earlier run is never taken for this one
};

std::string SerializeInitSpec(const InitSpec& spec);

// What the runtime hands the init. fd 3 carries the set-up report back. fd kStartGateFd is the
// gate, a Unix socket: the init waits there until the runtime has put it in its cgroup (it is
// exec'd straight from a vfork-style clone, before the agent can place it, and may be made
// ahead of need), then receives two messages of one byte each with descriptors (SCM_RIGHTS):
//  - kGateSpec: the spec, in a memfd the runtime fills (no file per launch), and, when the
//    root file system comes mounted (a spare root), that mount. The init builds the container.
//  - kGateRecord, before the init starts the workload: the container's record file, opened by
//    the runtime meanwhile. Its checkpoint fills the first kExitRecordOffset bytes and the init
//    writes its exit record after them, so one inode per container holds both (ext4 inode
//    allocation was the largest cost of a launch).
// End-of-file at either means the runtime gave up: the init exits without starting anything.
// A spare init may get a message before those:
//  - kGatePrepare: a spec holding only where the root goes (rootfs, overlay_lower), and the
//    image's overlay mounted detached. The init builds the root file system that far ahead
//    (pivot_root included) and answers "P" on fd 3, or "E<why>". The spec that follows then
//    comes without a root, and the init opens the host paths it names (volumes, log, FIFO,
//    network namespace) from the host's mount namespace, which it keeps a descriptor of.
constexpr int kStartGateFd = 6;
constexpr char kGatePrepare = 'P';
constexpr char kGateSpec = 'S';
constexpr char kGateRecord = 'G';
constexpr long kExitRecordOffset = 8192;
// The exit record's region: exit code, signal, run, time, and a StartError's message (<= 256
// bytes before JSON escaping, which can grow it sixfold at worst).
constexpr size_t kExitRecordSize = 2048;

// False if malformed.
bool ParseInitSpec(const std::string& data, InitSpec& spec);

}  // namespace berth::agent
