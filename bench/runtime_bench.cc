// berth-runtime-bench [N]: container launches per second through LinuxRuntime (namespaces,
// cgroup with limits, berth-container-init as PID 1, CRI log file, exit record), next to the raw
// rate of clone3(NEWPID|NEWNS|NEWUTS|NEWIPC) + exec of the same program measured in the same
// process. Each launch runs /bin/true to completion (start -> exit observed). Prints
// "raw <per second>", "runtime <per second>" (as the agent runs it) and "runtime-without-spares
// <per second>" (every start clones and execs its own init and builds its own root: no zygote,
// spare inits or spare roots).

#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

  // The runtime as the agent runs it (spare inits on where the cgroups allow, spare roots), then
  // with every start cloning its own init and building its own root, each over a fresh state dir
  // and cgroup subtree. Both are cleaned up after both ran: removing a loop's 300 containers
  // frees blocks, and on a file system mounted with `discard` the next loop would pay for that.
  std::vector<std::function<void()>> cleanups;
  auto run_loop = [&](int spare_inits, int spare_roots, int round) -> double {
    std::string dir = std::filesystem::temp_directory_path() /
                      ("berth-runtime-bench-" + std::to_string(getpid()) + "-" + std::to_string(round));
    auto cgroups = DetectCgroupDriver("berth-runtime-bench-" + std::to_string(getpid()) + "-" + std::to_string(round));
    if (!cgroups.ok()) {
      std::fprintf(stderr, "%s\n", cgroups.status().ToString().c_str());
      return -1;
    }
    LinuxRuntimeOptions options{dir + "/state", init, *std::move(cgroups)};
    options.spare_inits = spare_inits;
    options.spare_roots = spare_roots;
    options.init_zygote = spare_inits > 0;  // the second loop makes nothing ahead: each init is exec'd
    auto rt = LinuxRuntime::Create(std::move(options));
    if (!rt.ok()) {
      std::fprintf(stderr, "%s\n", rt.status().ToString().c_str());
      return -1;
    }
    // Cleaned up at the end whether the loop finishes or not (a failed start leaves the ones
    // before it, and their cgroups).
    std::shared_ptr<LinuxRuntime> runtime = *std::move(rt);
    auto started = std::make_shared<int>(0);
    cleanups.push_back([runtime, dir, started] {
      for (int i = 0; i < *started; ++i) (void)runtime->Remove("bench-" + std::to_string(i));
      (void)runtime->RemoveCgroupSubtree();
      std::filesystem::remove_all(dir);
    });
    std::mutex mu;
    std::condition_variable cv;
    int exited = 0;
    runtime->SetExitCallback([&](const ContainerStatus&) {
      std::lock_guard<std::mutex> lock(mu);
      exited++;
      cv.notify_all();
    });
    // Spares are made in the background from the start; the loop begins once they are (as in an
    // agent, which makes them when it starts).
    for (int i = 0; i < 2000 && runtime->spare_inits_ready() < static_cast<size_t>(spare_inits); ++i) usleep(1000);
    auto start = std::chrono::steady_clock::now();
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
      if (absl::Status s = runtime->Start(spec); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        runtime->SetExitCallback(nullptr);  // the callback's state goes with this frame
        return -1;
      }
      ++*started;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return exited == i + 1; });
    }
    double rate = n / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    runtime->SetExitCallback(nullptr);
    return rate;
  };
  double runtime = run_loop(LinuxRuntimeOptions{}.spare_inits, LinuxRuntimeOptions{}.spare_roots, 0);
  double without_spares = runtime < 0 ? -1 : run_loop(0, 0, 1);
  for (auto& cleanup : cleanups) cleanup();
  cleanups.clear();
  if (runtime < 0 || without_spares < 0) return 1;
  std::printf("raw %.1f\nruntime %.1f\nruntime-without-spares %.1f\n", raw, runtime, without_spares);
  return 0;
}
