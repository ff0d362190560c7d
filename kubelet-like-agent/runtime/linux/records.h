#pragma once
// File: kubelet-like-agent/runtime/linux/records.h
// One record file per container, <state_dir>/containers/<id>.record: the agent's checkpoint
// (what it launched, rewritten in place) in the first kExitRecordOffset bytes, then the exit
// record the container's init writes when it ends. One inode per container; a dying writer
// leaves the old or the new content of its region.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent::runtime {

inline constexpr std::string_view kRecordSuffix = ".record";

std::string RecordPath(std::string_view state_dir, std::string_view id);
// The FIFO that is the standard input of a container with stdin: true.
std::string StdinFifoPath(std::string_view state_dir, std::string_view id);
// The writable layer `name` of a container with an image root file system (its id, or a spare
// root's name): overlay's upper and work directories, siblings under two parents made once (not
// a directory per container holding both: a new inode costs 0.3-0.45 ms on this machine's ext4).
std::string WritableLayerUpper(std::string_view state_dir, std::string_view name);
std::string WritableLayerWork(std::string_view state_dir, std::string_view name);
// `path` as an empty directory: made, or emptied if it was there. Made first: a lookup of a
// name that is not there is not free on ext4 either.
absl::Status MakeEmptyDirectory(const std::string& path);
// Removes writable layer `name` (nothing for "").
void RemoveWritableLayer(std::string_view state_dir, std::string_view name);
// The one directory every container's root is mounted on. Each container mounts it in its own
// private mount namespace, so they share the (always empty) host directory instead of making
// one per launch: a new directory cost 0.3-0.45 ms on this machine's ext4.
std::string RootMountPoint(std::string_view state_dir);
// The lowest layer of every image root: empty mount points (dev, proc, sys, tmp, run, the
// ServiceAccount token's directory, etc/hosts and resolv.conf), as Docker's init layer holds
// them. Without it, an image lacking them had each made in its fresh writable layer on every
// start, a new ext4 inode each. Read-only and shared: the image's own entries hide it.
std::string MountPointSkeleton(std::string_view state_dir);

// The checkpoint region: the container's status, its cgroup, the start time that identifies
// its init for re-adoption, and its writable layer's name ("": none).
struct Checkpoint {
  ContainerStatus status;
  std::string cgroup;
  uint64_t start_ticks = 0;
  std::string writable_layer;
  bool running = false;  // read back from status.state
};
absl::Status WriteCheckpoint(const std::string& path, const Checkpoint& checkpoint);
// nullopt when the file has no readable checkpoint.
std::optional<Checkpoint> ReadCheckpoint(const std::string& path);

// The exit record of run `run`, as the init wrote it; nullopt when absent or of another run.
struct ExitRecord {
  int exit_code = 0;
  int signal = 0;
  std::string finished_at;  // RFC 3339
  std::string reason;       // StartError, or "" (the runtime decides)
  std::string message;
};
std::optional<ExitRecord> ReadExitRecord(const std::string& path, int run);

// Field 22 of /proc/<pid>/stat, 0 when the process is gone.
uint64_t ProcessStartTicks(int64_t pid);

}  // namespace berth::agent::runtime
