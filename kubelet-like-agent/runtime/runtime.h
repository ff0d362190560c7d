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
// * `on_exit` (SetExitCallback) is called, from a runtime thread, after a container ends. It
//   must return without waiting for the runtime (hand the work to another thread): the same
//   thread sees the container's resources freed, which Remove and a new run wait for.

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
  // An image's unpacked layers, top first: the root file system is then an overlay of them
  // with a private writable layer, fresh at each start and removed with the container, so
  // nothing a container writes reaches the image or another container.
  std::vector<std::string> image_layers;
  bool read_only_rootfs = false;
  // Hardening, containerd's defaults unless `privileged` (every capability, the host's /dev,
  // nothing masked, no seccomp): the capabilities kept (numbers, <linux/capability.h>), a
  // minimal /dev, masked kernel paths, the RuntimeDefault seccomp filter, no_new_privs. An
  // unprivileged image: host container sees the host read-only with private /tmp and /run.
  bool privileged = false;
  std::vector<int> capabilities;
  bool seccomp_default = false;
  bool no_new_privs = false;
  std::vector<uint32_t> supplemental_groups;
  std::vector<Mount> mounts;
  std::optional<uint32_t> run_as_user, run_as_group;
  bool pid_namespace = true;     // always on for LinuxRuntime; fields for the record
  bool network_namespace = false;  // loopback only when true; host network otherwise
  // A pod network namespace (pinned file) every container of the pod joins; overrides
  // network_namespace. Empty: see network_namespace.
  std::string netns_path;
  // Resources: CPU in millicores (limit -> CFS quota, request -> shares/weight), bytes, count.
  std::optional<int64_t> cpu_limit_millis, cpu_request_millis, memory_limit_bytes, pids_limit;
  std::string log_path;          // where this run's stdout/stderr go (CRI log format)
  bool stdin = false;            // the main process reads a FIFO attach writes to (else /dev/null)
  int64_t log_max_bytes = 10 * 1024 * 1024;
  std::string spec_hash;         // changes when the pod's container spec does
  // Runs the API saw when the runtime has no record of this id (lost with a reboot): counting
  // goes on from there, so restartCount never goes back. Ignored when the runtime's is higher.
  int previous_runs = 0;
};

enum class State { kRunning, kExited, kUnknown };

// An interactive command in a running container (kubectl exec): the container's namespaces,
// cgroups, environment, user and working directory.
struct ExecRequest {
  std::vector<std::string> argv;
  bool tty = false;    // a pseudo-terminal carries stdin and stdout (stderr joins stdout)
  bool stdin = false;  // otherwise its stdin is /dev/null
};

// The caller owns the descriptors (close them) and must reap `pid` with WaitExec.
struct ExecProcess {
  int64_t pid = 0;       // host PID; its exit status is the command's
  int64_t process_group = 0;  // host PID of the command, leader of its own session
  int stdin_fd = -1;     // pipe to the command's stdin (-1 without stdin; the PTY with tty)
  int stdout_fd = -1;    // pipe from stdout, or the PTY master with tty
  int stderr_fd = -1;    // -1 with tty
};

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
  // Starts `request` inside a running container. kFailedPrecondition when it is not running,
  // kNotFound when the command cannot be found (the message says so), kUnimplemented by
  // runtimes without processes.
  virtual absl::StatusOr<ExecProcess> StartExec(std::string_view id, const ExecRequest& request) = 0;
  // Ends a StartExec command and everything it started (the client went away).
  virtual void KillExec(const ExecProcess& process) = 0;
  // Blocks until the command ends: its exit code (128 + signal when killed).
  virtual absl::StatusOr<int> WaitExec(const ExecProcess& process) = 0;
  // A file that opens the network namespace the container runs in ("" for the host's).
  virtual absl::StatusOr<std::string> NetworkNamespacePath(std::string_view id) = 0;
  // The FIFO that is the main process's standard input (containers with stdin: true).
  virtual absl::StatusOr<std::string> StdinPath(std::string_view id) = 0;
  virtual void SetExitCallback(std::function<void(const ContainerStatus&)> on_exit) = 0;
};

}  // namespace berth::agent::runtime
