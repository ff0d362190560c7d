// berth-runtime-bench [N]: container launches per second through LinuxRuntime (namespaces,
// cgroup with limits, berth-container-init as PID 1, CRI log file, exit record), next to the raw
// rate of clone3(NEWPID|NEWNS|NEWUTS|NEWIPC) + exec of the same program measured in the same
// process. Each launch runs /bin/true to completion (start -> exit observed). Prints
// "raw <per second>" and "runtime <per second>".

#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>

#include "kubelet-like-agent/runtime/linux/linux_runtime.h"

using namespace berth::agent::runtime;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200;
  // A second argument: an unpacked image layer (holding /bin/true) to run the containers on, as
  // an overlay root file system, instead of the host's.
  std::string layer = argc > 2 ? argv[2] : "";
  std::string init = std::filesystem::path(argv[0]).parent_path() / "berth-container-init";
  // Raw: what any container start must at least pay.
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    clone_args args{};
    args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
      execl("/bin/true", "true", static_cast<char*>(nullptr));
      _exit(127);
    }
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
  double raw = n / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string dir = std::filesystem::temp_directory_path() / ("berth-runtime-bench-" + std::to_string(getpid()));
  auto cgroups = DetectCgroupDriver("berth-runtime-bench-" + std::to_string(getpid()));
  if (!cgroups.ok()) {
    std::fprintf(stderr, "%s\n", cgroups.status().ToString().c_str());
    return 1;
  }
  LinuxRuntimeOptions options{dir + "/state", init, *std::move(cgroups)};
  auto rt = LinuxRuntime::Create(std::move(options));
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", rt.status().ToString().c_str());
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  int exited = 0;
  (*rt)->SetExitCallback([&](const ContainerStatus&) {
    std::lock_guard<std::mutex> lock(mu);
    exited++;
    cv.notify_all();
  });
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    ContainerSpec spec;
    spec.id = "bench-" + std::to_string(i);
    spec.pod_key = "bench/p" + std::to_string(i);
    spec.hostname = spec.id;
    spec.argv = {"/bin/true"};
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.cpu_limit_millis = 500;
    spec.memory_limit_bytes = 64 << 20;
    spec.pids_limit = 64;
    spec.log_path = dir + "/logs/" + spec.id + ".log";
    if (!layer.empty()) spec.image_layers = {layer};
    if (absl::Status s = (*rt)->Start(spec); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return exited == i + 1; });
  }
  double runtime = n / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < n; ++i) (void)(*rt)->Remove("bench-" + std::to_string(i));
  (void)(*rt)->cgroups().RemoveSubtree();
  rt->reset();
  std::filesystem::remove_all(dir);
  std::printf("raw %.1f\nruntime %.1f\n", raw, runtime);
  return 0;
}
