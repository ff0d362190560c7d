#pragma once
// File: kubelet-like-agent/runtime/linux/init_zygote.h
// One berth-container-init kept running as a zygote ("berth-container-init zygote"): asked for
// an init, it clones a child of its own into new PID, UTS and IPC namespaces that becomes the
// init without an exec, parented to the runtime (CLONE_PARENT), so the runtime waits for and
// reaps it as it does an init it cloned itself. What that saves is the init's exec and its static
// glibc's start-up, whose CPU cache queries (`cpuid`) trap to the hypervisor on a VM: ~0.7 ms of
// CPU per container here, about a quarter of a launch.
//
// Thread-safe. When the zygote is gone (killed from outside), Clone fails and the caller clones
// and execs the init itself.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace berth::agent::runtime {

class InitZygote {
 public:
  // Starts `init_path` in zygote mode, at the calling thread's priority.
  static absl::StatusOr<std::unique_ptr<InitZygote>> Start(const std::string& init_path);
  ~InitZygote();  // ends the zygote and reaps it (the inits it made are the runtime's)
  InitZygote(const InitZygote&) = delete;
  InitZygote& operator=(const InitZygote&) = delete;

  // A new init, the runtime's child, with `report_fd` at its fd 3 and `gate_fd` at its gate (the
  // caller keeps and closes its own copies), at the zygote's priority, waiting at its gate. It is
  // born in the cgroup v2 directory `cgroup_dir_fd` when one is given (CLONE_INTO_CGROUP), else
  // in the zygote's cgroup.
  absl::StatusOr<pid_t> Clone(int report_fd, int gate_fd, int cgroup_dir_fd = -1);

  pid_t pid() const { return pid_; }                     // tests
  uint64_t clones() const { return clones_.load(); }      // inits made so far (tests)

 private:
  InitZygote(pid_t pid, int socket) : pid_(pid), socket_(socket) {}

  const pid_t pid_;
  std::mutex mu_;  // one request and its answer at a time
  int socket_;
  // A request failed or timed out: no answer can be matched to a request any more, so none is
  // sent (a late init, if one was made, finds its gate closed and exits).
  bool broken_ = false;
  std::atomic<uint64_t> clones_{0};
};

}  // namespace berth::agent::runtime
