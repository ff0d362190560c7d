#pragma once
// File: kubelet-like-agent/runtime/runtime.h
// The seam between the agent's sync loop and the machine (style.md Sketch C). LinuxRuntime runs
// each container as a process tree in its own namespaces and cgroup; FakeRuntime keeps state in
// memory (unit tests and hollow nodes).
//
// Contract (both implementations):
// * Thread-safe. Calls may block (a launch, a graceful stop): call them from sync workers,
//   never from informer or HTTP threads.
// * Start of an id that is running -> kAlreadyExists. Start of an id that ended replaces it (a
//   restart); the previous run's log stays readable as `previous`.
// * Stop of an unknown or ended id -> OK. Stop sends SIGTERM, then SIGKILL after `grace`, and
//   returns once every process of the container is gone.
// * Remove forgets an ended container and frees what it held (cgroup, checkpoint). Running ->
//   kFailedPrecondition.
// * List reports containers of earlier agent runs too (re-adopted from checkpoints), so the
//   sync loop can keep or kill them (Mesos `recover`).
// * `on_exit` (SetExitCallback) is called, from a runtime thread, after a container ends.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::agent::runtime {

struct Mount {
  std::string source;  // host path (a volume's directory or file)
  std::string target;  // path inside the container
  bool read_only = false;
};

struct ContainerSpec {
  std::string id;              // stable per pod container: <pod uid>_<container name>
  std::string pod_key;         // namespace/name, for logs and List() consumers
  std::string pod_uid;
  std::string container_name;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V"
  std::string working_dir;
  std::string hostname;          // the pod's name (UTS namespace)
  std::string rootfs;            // empty: the host's file system ("image: host")
  std::vector<Mount> mounts;
  std::optional<uint32_t> run_as_user, run_as_group;
  bool pid_namespace = true;     // always on for LinuxRuntime; fields for the record
  bool network_namespace = false;  // loopback only when true; host network otherwise
  // Resources: CPU in millicores (limit -> CFS quota, request -> shares/weight), bytes, count.
  std::optional<int64_t> cpu_limit_millis, cpu_request_millis, memory_limit_bytes, pids_limit;
  std::string log_path;          // where this run's stdout/stderr go (CRI log format)
  int64_t log_max_bytes = 10 * 1024 * 1024;
  std::string spec_hash;         // changes when the pod's container spec does
  // Runs the API saw when the runtime has no record of this id (lost with a reboot): counting
  // goes on from there, so restartCount never goes back. Ignored when the runtime's is higher.
  int previous_runs = 0;
};

enum class State { kRunning, kExited, kUnknown };

struct ContainerStatus {
  std::string id;
  std::string pod_key, pod_uid, container_name;
  State state = State::kUnknown;
  int64_t pid = 0;               // host PID of the container's init
  int exit_code = 0;
  int signal = 0;                // the signal that ended the main process, 0 if it exited
  std::string reason;            // Completed, Error, OOMKilled, StartError
  std::string message;           // StartError: why the workload could not start
  absl::Time started_at = absl::InfinitePast();
  absl::Time finished_at = absl::InfinitePast();
  int runs = 0;                  // how many times this id was started (restarts + 1)
  std::string log_path, previous_log_path;
  std::string spec_hash;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual absl::Status Start(const ContainerSpec& spec) = 0;
  virtual absl::Status Stop(std::string_view id, absl::Duration grace) = 0;
  virtual absl::Status Remove(std::string_view id) = 0;
  virtual absl::StatusOr<ContainerStatus> Inspect(std::string_view id) = 0;
  virtual absl::StatusOr<std::vector<ContainerStatus>> List() = 0;
  // Runs `argv` inside a running container's namespaces (exec probes); exit code, or an error
  // if it could not run or outlived `timeout` (then it is killed).
  virtual absl::StatusOr<int> Exec(std::string_view id, const std::vector<std::string>& argv,
                                   absl::Duration timeout) = 0;
  virtual void SetExitCallback(std::function<void(const ContainerStatus&)> on_exit) = 0;
};

}  // namespace berth::agent::runtime
