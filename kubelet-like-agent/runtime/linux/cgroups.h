#pragma once
// File: kubelet-like-agent/runtime/linux/cgroups.h
// Per-container cgroups, created under the cgroup the agent itself runs in (its delegated
// subtree, read per hierarchy from /proc/self/cgroup); processes are never moved out of it.
// cgroup v1 (separate cpu, memory, pids hierarchies, as on this machine) and v2 (one unified
// hierarchy) are detected at start-up: v2 when /proc/self/cgroup has only the "0::" line and the
// unified hierarchy offers the memory controller.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::agent::runtime {

struct CgroupLimits {
  std::optional<int64_t> cpu_limit_millis, cpu_request_millis, memory_limit_bytes, pids_limit;
};

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;
  virtual std::string version() const = 0;  // "v1" or "v2"
  // Directories (one per hierarchy) for `name`, created with `limits` applied. Idempotent.
  virtual absl::StatusOr<std::vector<std::string>> Create(const std::string& name, const CgroupLimits& limits) = 0;
  // Writes `limits` to the existing `name` (what Create applies to a new one).
  virtual absl::Status ApplyLimits(const std::string& name, const CgroupLimits& limits) = 0;
  // Whether Rename works: cgroup v1's file system renames a cgroup with its processes in it;
  // v2's has no rename.
  virtual bool CanRename() const = 0;
  // Renames `from` to `to` in every hierarchy (an empty leftover `to` is replaced); on failure
  // nothing is renamed.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // The `cgroup.procs` files a new process is written to.
  virtual std::vector<std::string> ProcsFiles(const std::string& name) const = 0;
  // The one directory a new process can be born in instead (clone3's CLONE_INTO_CGROUP takes
  // it): cgroup v2's; "" on v1, whose hierarchies it cannot name.
  virtual std::string BirthDirectory(const std::string& name) const = 0;
  // How many times the memory cgroup's OOM killer fired for `name`.
  virtual int64_t OomKills(const std::string& name) const = 0;
  // Removes the directories (they must hold no process). NotFound is fine.
  virtual absl::Status Remove(const std::string& name) = 0;
  // Removes the (empty) subtree the driver was created for: an agent drained for good.
  virtual absl::Status RemoveSubtree() = 0;
  // Whether a process still lives in `name`.
  virtual bool Populated(const std::string& name) const = 0;
};

// Detects the version from /proc/self/cgroup and the mounts under `mount_root` (default
// /sys/fs/cgroup); children go under `<own cgroup>/<subtree>`.
absl::StatusOr<std::unique_ptr<CgroupDriver>> DetectCgroupDriver(const std::string& subtree,
                                                                 const std::string& mount_root = "/sys/fs/cgroup");

// The drivers themselves, over directories already chosen (tests point them at plain
// directories or at a cgroup of their own): v1 takes controller -> directory ("cpu", "memory",
// optionally "pids"), v2 the one directory whose children it manages.
std::unique_ptr<CgroupDriver> MakeCgroupV1Driver(std::map<std::string, std::string> bases);
std::unique_ptr<CgroupDriver> MakeCgroupV2Driver(std::string base);

// CPU shares (v1) for a request in millicores, as the kubelet computes them; and the v2 weight.
int64_t CpuShares(int64_t request_millis);
int64_t CpuWeightFromShares(int64_t shares);

}  // namespace berth::agent::runtime
