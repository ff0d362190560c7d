#pragma once
// File: kubelet-like-agent/runtime/linux/linux_runtime.h
// Containers as process trees: a vfork-style clone(2) into new PID, UTS and IPC namespaces that
// execs berth-container-init as PID 1, which waits at a gate until the agent has placed it in its
// cgroup (CLONE_INTO_CGROUP is v2-only) and handed it the spec, then makes its own mount (and on
// request network) namespace. Inits are made ahead of need (SpareInits) where the cgroup driver
// can rename. Each launch is
// checkpointed under `state_dir`; a new agent process re-adopts the containers that still run
// (same PID, verified by its start time) and reads the recorded exit of those that ended.
// Exits are noticed on one monitor thread: the init's "recorded" byte (then its pidfd, when it is
// gone and the cgroup can go), or the pidfd alone for an init that could not record.

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/time/clock.h"
#include "kubelet-like-agent/runtime/linux/cgroups.h"
#include "kubelet-like-agent/runtime/linux/exit_monitor.h"
#include "kubelet-like-agent/runtime/linux/launcher.h"
#include "kubelet-like-agent/runtime/linux/spare_roots.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent::runtime {

struct LinuxRuntimeOptions {
  std::string state_dir;   // checkpoints and per-container files
  std::string init_path;   // berth-container-init
  std::unique_ptr<CgroupDriver> cgroups;
  // Start and finish times of containers (checkpoints, status). Must outlive the runtime.
  const Clock* clock = &RealClock::Get();
  // Container inits kept ready ahead of starts (0: every start clones its own). Used only with
  // a cgroup driver that can rename (cgroup v1).
  int spare_inits = 2;
  // Image root file systems kept ready per image lately started (0: every start builds its
  // own): a fresh writable layer with the image's overlay mounted detached over it.
  int spare_roots = 2;
  // Inits cloned by a zygote (InitZygote) instead of exec'd, spares or not.
  bool init_zygote = true;
};

class LinuxRuntime final : public Runtime {
 public:
  // Recovers the containers of earlier runs from `state_dir`.
  static absl::StatusOr<std::unique_ptr<LinuxRuntime>> Create(LinuxRuntimeOptions options);
  ~LinuxRuntime() override;

  absl::Status Start(const ContainerSpec& spec) override;
  absl::Status Stop(std::string_view id, absl::Duration grace) override;
  absl::Status Remove(std::string_view id) override;
  absl::StatusOr<ContainerStatus> Inspect(std::string_view id) override;
  absl::StatusOr<std::vector<ContainerStatus>> List() override;
  absl::StatusOr<int> Exec(std::string_view id, const std::vector<std::string>& argv, absl::Duration timeout) override;
  absl::StatusOr<ExecProcess> StartExec(std::string_view id, const ExecRequest& request) override;
  void KillExec(const ExecProcess& process) override;
  absl::StatusOr<int> WaitExec(const ExecProcess& process) override;
  absl::StatusOr<std::string> NetworkNamespacePath(std::string_view id) override;
  absl::StatusOr<std::string> StdinPath(std::string_view id) override;
  void SetExitCallback(std::function<void(const ContainerStatus&)> on_exit) override;

  CgroupDriver& cgroups() { return *options_.cgroups; }
  // Ends the spare inits and removes the runtime's (then empty) cgroup subtree: for an agent
  // leaving for good, and for tests and benches that leave nothing behind. No Start may run.
  absl::Status RemoveCgroupSubtree();
  // Spare inits ready now (0 when off).
  size_t spare_inits_ready() const { return spares_ ? spares_->ready() : 0; }
  // Spare inits ready now with their root built for an image (tests).
  size_t prepared_spare_inits_ready() const { return spares_ ? spares_->prepared() : 0; }
  // Starts so far that took a spare init with its root built (tests).
  uint64_t starts_on_prepared_roots() const { return starts_on_prepared_roots_.load(); }
  // Spare image roots ready now, over all images (0 when off).
  size_t spare_roots_ready() const { return roots_ ? roots_->ready() : 0; }
  // The zygote's pid, 0 when there is none (tests).
  pid_t init_zygote_pid() const { return zygote_ ? zygote_->pid() : 0; }
  uint64_t init_zygote_clones() const { return zygote_ ? zygote_->clones() : 0; }

 private:
  struct Container {
    ContainerStatus status;
    std::string cgroup;
    uint64_t start_ticks = 0;
    int64_t oom_kills_at_start = 0;
    // Ended and recorded while its init still tears the mounts and namespaces down: the
    // cgroup goes when the init is gone, and Remove and the id's next run wait for that.
    bool init_exiting = false;
    // The writable layer's name (WritableLayerUpper/Work): its id, or the spare root it took;
    // "" without an image root.
    std::string writable_layer;
  };

  explicit LinuxRuntime(LinuxRuntimeOptions options);
  // What an exec enters: the init's PID (its namespaces) and the cgroup.procs files.
  struct ExecTarget {
    int64_t init_pid = 0;
    std::vector<std::string> procs;
  };
  absl::StatusOr<ExecTarget> RunningTarget(std::string_view id);
  void Recover();
  // Removes writable layers no container refers to: spare roots an earlier agent left.
  void RemoveUnusedWritableLayers();
  // The slow part of Start, without mu_: the writable layer and the init. `writable_layer` is
  // set to the layer the container got ("" without an image root).
  absl::StatusOr<LaunchedInit> Launch(const ContainerSpec& spec, int runs, std::string& writable_layer);
  void Watch(Container& c, int notice_fd = -1);
  // The monitor's report: these containers ended (recorded) or their inits are gone.
  void OnExited(const std::vector<ExitMonitor::Ended>& ended);
  // Records how a container ended; runs with mu_ held. `init_gone`: its init has exited too
  // (else the cgroup is removed when it has).
  void MarkExitedLocked(Container& c, int wait_status, bool have_wait_status, bool init_gone = true);
  // Waits (mu_ held through `lock`) until no init of `id` is still exiting.
  absl::Status WaitForInitGone(std::unique_lock<std::mutex>& lock, std::string_view id);
  void CheckpointLocked(const Container& c) const;

  LinuxRuntimeOptions options_;
  mutable std::mutex mu_;
  std::condition_variable exited_cv_;
  // Ids being launched outside mu_, and the wake-up when one is done.
  std::set<std::string, std::less<>> starting_;
  std::condition_variable started_cv_;
  std::map<std::string, Container, std::less<>> containers_;
  std::function<void(const ContainerStatus&)> on_exit_;
  std::unique_ptr<InitZygote> zygote_;  // null when off or it could not start; outlives spares_
  std::atomic<uint64_t> starts_on_prepared_roots_{0};
  std::unique_ptr<SparePreparer> preparer_;  // null without spare roots; outlives spares_
  std::unique_ptr<SpareInits> spares_;  // null when off or unsupported
  std::unique_ptr<SpareRoots> roots_;   // null when off
  // Last: destroyed first, so no exit is reported into a half-destroyed runtime.
  ExitMonitor monitor_;
};

}  // namespace berth::agent::runtime
