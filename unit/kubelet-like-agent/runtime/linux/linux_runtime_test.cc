// LinuxRuntime on this machine's kernel (root): namespaces, cgroups, the init as PID 1, exit
// recording, exec, and re-adoption by a second runtime over the same state dir. Each test
// skips with the reason when the machine cannot run it (not root, no cgroup hierarchy).

#include "kubelet-like-agent/runtime/linux/linux_runtime.h"
#include "kubelet-like-agent/runtime/linux/records.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "testing/slurp.h"
#include "testing/unified_cgroup.h"

namespace berth::agent::runtime {
namespace {

namespace fs = std::filesystem;

using berth::testing::Slurp;

// An image root: busybox and a marker file, as an unpacked layer.
std::string MakeLayer(const std::string& dir, const std::string& marker) {
  fs::create_directories(dir + "/bin");
  fs::create_directories(dir + "/etc");
  fs::copy_file("/usr/bin/busybox", dir + "/bin/busybox");
  for (const char* applet : {"sh", "cat", "echo", "test", "sleep"}) fs::create_symlink("busybox", dir + "/bin/" + applet);
  std::ofstream(dir + "/etc/marker") << marker << "\n";
  return dir;
}

bool WaitForSpareRoots(LinuxRuntime& rt, size_t n) {
  for (int i = 0; i < 2000 && rt.spare_roots_ready() < n; ++i) usleep(5000);
  return rt.spare_roots_ready() >= n;
}

std::string LayerOf(const std::string& state_dir, const std::string& id) {
  auto checkpoint = ReadCheckpoint(RecordPath(state_dir, id));
  return checkpoint ? checkpoint->writable_layer : "?";
}

class LinuxRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for namespaces and cgroups";
    std::string tmpl = (fs::temp_directory_path() / "berth-runtime-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    subtree_ = "berth-test-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto runtime = Make();
    if (!runtime.ok()) GTEST_SKIP() << runtime.status();
    runtime_ = *std::move(runtime);
  }
  absl::StatusOr<std::unique_ptr<LinuxRuntime>> Make() {
    auto cgroups = DetectCgroupDriver(subtree_);
    if (!cgroups.ok()) return cgroups.status();
    LinuxRuntimeOptions options;
    options.state_dir = dir_ + "/state";
    options.init_path = BERTH_CONTAINER_INIT;
    options.cgroups = *std::move(cgroups);
    auto rt = LinuxRuntime::Create(std::move(options));
    if (rt.ok()) {
      (*rt)->SetExitCallback([this](const ContainerStatus&) {
        std::lock_guard<std::mutex> lock(mu_);
        exits_++;
        cv_.notify_all();
      });
    }
    return rt;
  }
  void TearDown() override {
    if (runtime_) {
      auto all = runtime_->List();
      std::vector<ContainerStatus> list = all.ok() ? *all : std::vector<ContainerStatus>{};
      for (const ContainerStatus& s : list) {
        (void)runtime_->Stop(s.id, absl::ZeroDuration());
        EXPECT_TRUE(runtime_->Remove(s.id).ok()) << "cgroup of " << s.id << " not empty";
      }
      EXPECT_TRUE(runtime_->RemoveCgroupSubtree().ok()) << "a cgroup was left behind";
      runtime_.reset();
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  ContainerSpec Spec(const std::string& id, const std::string& script) {
    ContainerSpec s;
    s.id = id;
    s.pod_key = "default/" + id;
    s.container_name = "c";
    s.hostname = id;
    s.argv = {"/bin/sh", "-c", script};
    s.env = {"PATH=/usr/bin:/bin", "GREETING=hello"};
    s.log_path = dir_ + "/logs/" + id + "/0.log";
    return s;
  }
  ContainerStatus WaitExited(const std::string& id) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return runtime_->Inspect(id)->state == State::kExited; });
    return *runtime_->Inspect(id);
  }
  // The layers of an image started once (container "warm"), with its spare roots ready.
  std::vector<std::string> WarmImage(const std::string& marker) {
    ContainerSpec warm = Spec("warm", "true");
    warm.image_layers = {MakeLayer(dir_ + "/layer", marker)};
    EXPECT_TRUE(runtime_->Start(warm).ok());
    WaitExited("warm");
    EXPECT_TRUE(WaitForSpareRoots(*runtime_, 2));
    return warm.image_layers;
  }

  std::string dir_, subtree_;
  std::unique_ptr<LinuxRuntime> runtime_;
  std::mutex mu_;
  std::condition_variable cv_;
  int exits_ = 0;
};

TEST_F(LinuxRuntimeTest, RunsAsPidOneChildWithItsOwnHostnameAndLogs) {
  ContainerSpec spec = Spec("hello", "echo pid=$$ ppid=$PPID; hostname; echo $GREETING; echo oops >&2; exit 3");
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ContainerStatus s = WaitExited("hello");
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_EQ(s.reason, "Error");
  std::string log = Slurp(spec.log_path);
  EXPECT_NE(log.find(" stdout F pid=2 ppid=1\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" stdout F hello\n"), std::string::npos) << log;  // the hostname
  EXPECT_NE(log.find(" stderr F oops\n"), std::string::npos) << log;
  EXPECT_TRUE(runtime_->Remove("hello").ok());
}

TEST_F(LinuxRuntimeTest, StopEndsTheContainerAndExecRunsInside) {
  ASSERT_TRUE(runtime_->Start(Spec("sleeper", "trap 'exit 0' TERM; while true; do sleep 0.05; done")).ok());
  auto code = runtime_->Exec("sleeper", {"sh", "-c", "test \"$(hostname)\" = sleeper"}, absl::Seconds(5));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(*runtime_->Exec("sleeper", {"false"}, absl::Seconds(5)), 1);
  ASSERT_TRUE(runtime_->Stop("sleeper", absl::Seconds(5)).ok());
  ContainerStatus s = *runtime_->Inspect("sleeper");
  EXPECT_EQ(s.state, State::kExited);
  EXPECT_EQ(s.exit_code, 0) << "the TERM trap ran: SIGTERM reached the main process through the init";
}

TEST_F(LinuxRuntimeTest, MemoryLimitEndsInOomKilled) {
  ContainerSpec spec = Spec("hog", "exec tail /dev/zero");  // one endless line, held in memory
  spec.memory_limit_bytes = 32 << 20;
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ContainerStatus s = WaitExited("hog");
  EXPECT_EQ(s.signal, 9);
  EXPECT_EQ(s.exit_code, 137);
  EXPECT_EQ(s.reason, "OOMKilled");
}

TEST_F(LinuxRuntimeTest, SetUpFailureIsAnErrorNotACrash) {
  ContainerSpec spec = Spec("badmount", "true");
  spec.mounts.push_back({dir_ + "/does-not-exist", "/mnt/x", false});
  absl::Status s = runtime_->Start(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("bind mount /mnt/x"), absl::string_view::npos) << s;
  EXPECT_FALSE(fs::exists("/mnt/x")) << "nothing is created on the host for a mount that fails";
}

TEST_F(LinuxRuntimeTest, StartsFromManyThreadsAndStartsAnIdOnce) {
  // Launches run outside the runtime's lock: each thread's container must come up whole, and
  // two starts of the same id must not both launch it.
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      std::string id = i < 6 ? "par-" + std::to_string(i) : "same";
      results[i] = runtime_->Start(Spec(id, "sleep 30"));
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<int64_t> pids;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i];
    auto st = runtime_->Inspect("par-" + std::to_string(i));
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->state, State::kRunning);
    pids.insert(st->pid);
  }
  EXPECT_EQ(pids.size(), 6u);
  EXPECT_NE(results[6].ok(), results[7].ok()) << results[6] << " / " << results[7];
  EXPECT_EQ((results[6].ok() ? results[7] : results[6]).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(runtime_->Inspect("same")->runs, 1);
}

// Waits (with a deadline) until the runtime has `n` spare inits ready.
bool WaitForSpares(LinuxRuntime& rt, size_t n) {
  for (int i = 0; i < 2000 && rt.spare_inits_ready() < n; ++i) usleep(5000);
  return rt.spare_inits_ready() >= n;
}

TEST_F(LinuxRuntimeTest, AStartTakesASpareInitIntoTheContainersOwnCgroupWithItsLimits) {
  if (!runtime_->cgroups().CanRename()) GTEST_SKIP() << "spare inits need cgroup v1's rename";
  ASSERT_TRUE(WaitForSpares(*runtime_, 2));
  ContainerSpec spec = Spec("spared", "cat /proc/self/cgroup; sleep 30");
  spec.memory_limit_bytes = 48 << 20;
  spec.pids_limit = 17;
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ContainerStatus st = *runtime_->Inspect("spared");
  ASSERT_EQ(st.state, State::kRunning);
  // The init (PID 1 inside) is in the container's cgroup, named by its id, not a spare's.
  std::string cgroup = Slurp("/proc/" + std::to_string(st.pid) + "/cgroup");
  EXPECT_NE(cgroup.find("/" + subtree_ + "/spared\n"), std::string::npos) << cgroup;
  EXPECT_EQ(cgroup.find("berth-spare"), std::string::npos) << cgroup;
  // Spares wait at the lowest priority; a taken one runs at the starter's.
  std::string stat = Slurp("/proc/" + std::to_string(st.pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 19 && fields >> field; ++i) {
  }
  EXPECT_EQ(field, std::to_string(getpriority(PRIO_PROCESS, 0))) << stat;
  std::string mem_dir, pids_dir;
  for (const std::string& procs : runtime_->cgroups().ProcsFiles("spared")) {
    std::string dir = fs::path(procs).parent_path().string();
    if (fs::exists(dir + "/memory.limit_in_bytes")) mem_dir = dir;
    if (fs::exists(dir + "/pids.max")) pids_dir = dir;
  }
  ASSERT_FALSE(mem_dir.empty());
  EXPECT_EQ(Slurp(mem_dir + "/memory.limit_in_bytes"), std::to_string(48 << 20) + "\n");
  if (!pids_dir.empty()) {
    EXPECT_EQ(Slurp(pids_dir + "/pids.max"), "17\n");
  }
  // And the next spare is made again, in the slot the taken one left.
  EXPECT_TRUE(WaitForSpares(*runtime_, 2));
  ASSERT_TRUE(runtime_->Stop("spared", absl::Milliseconds(100)).ok());
}

// The PPid field of /proc/<pid>/status.
std::string ParentOf(int64_t pid) {
  std::string status = Slurp("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("\nPPid:\t");
  return at == std::string::npos ? "" : status.substr(at + 7, status.find('\n', at + 1) - at - 7);
}

TEST_F(LinuxRuntimeTest, InitsComeFromTheZygoteAsTheRuntimesOwnChildren) {
  ASSERT_NE(runtime_->init_zygote_pid(), 0);
  ASSERT_TRUE(WaitForSpares(*runtime_, runtime_->cgroups().CanRename() ? 2 : 0));
  ASSERT_TRUE(runtime_->Start(Spec("zygote-child", "echo $$; sleep 30")).ok());
  ContainerStatus st = *runtime_->Inspect("zygote-child");
  ASSERT_EQ(st.state, State::kRunning);
  // Made by the zygote (a spare, or at the start), yet parented to the runtime, which waits
  // for it and reaps it; shown as the init, not as a zygote.
  EXPECT_GE(runtime_->init_zygote_clones(), 1u);
  EXPECT_EQ(ParentOf(st.pid), std::to_string(getpid()));
  std::string cmdline = Slurp("/proc/" + std::to_string(st.pid) + "/cmdline");
  EXPECT_EQ(cmdline.find("zygote"), std::string::npos);
  EXPECT_EQ(std::string(cmdline.c_str()), BERTH_CONTAINER_INIT);
  // PID 1 of its own PID namespace, as any init: the workload it started is PID 2.
  std::string log;
  for (int i = 0; i < 2000 && log.empty(); ++i, usleep(5000)) log = Slurp(Spec("zygote-child", "").log_path);
  EXPECT_NE(log.find(" stdout F 2\n"), std::string::npos) << log;
  ASSERT_TRUE(runtime_->Stop("zygote-child", absl::Milliseconds(100)).ok());
  EXPECT_EQ(WaitExited("zygote-child").state, State::kExited);
}

TEST_F(LinuxRuntimeTest, StartsExecTheirOwnInitsOnceTheZygoteIsGone) {
  pid_t zygote = runtime_->init_zygote_pid();
  ASSERT_NE(zygote, 0);
  ASSERT_TRUE(WaitForSpares(*runtime_, runtime_->cgroups().CanRename() ? 2 : 0));
  ASSERT_EQ(kill(zygote, SIGKILL), 0);
  uint64_t clones = runtime_->init_zygote_clones();
  // More starts than there are spares: the later inits are cloned and exec'd without it.
  for (int i = 0; i < 4; ++i) {
    std::string id = "after-zygote-" + std::to_string(i);
    ASSERT_TRUE(runtime_->Start(Spec(id, "exit 3")).ok()) << id;
    EXPECT_EQ(WaitExited(id).exit_code, 3) << id;
  }
  EXPECT_EQ(runtime_->init_zygote_clones(), clones);
}

// A driver that counts who asks where to write a new process (cgroup.procs).
class ProcsCountingDriver final : public CgroupDriver {
 public:
  explicit ProcsCountingDriver(std::unique_ptr<CgroupDriver> real) : real_(std::move(real)) {}
  std::string version() const override { return real_->version(); }
  absl::StatusOr<std::vector<std::string>> Create(const std::string& name, const CgroupLimits& limits) override {
    return real_->Create(name, limits);
  }
  absl::Status ApplyLimits(const std::string& name, const CgroupLimits& limits) override {
    return real_->ApplyLimits(name, limits);
  }
  bool CanRename() const override { return real_->CanRename(); }
  absl::Status Rename(const std::string& from, const std::string& to) override { return real_->Rename(from, to); }
  std::vector<std::string> ProcsFiles(const std::string& name) const override {
    ++*procs_asked_;
    return real_->ProcsFiles(name);
  }
  std::string BirthDirectory(const std::string& name) const override { return real_->BirthDirectory(name); }
  int64_t OomKills(const std::string& name) const override { return real_->OomKills(name); }
  absl::Status Remove(const std::string& name) override { return real_->Remove(name); }
  absl::Status RemoveSubtree() override { return real_->RemoveSubtree(); }
  bool Populated(const std::string& name) const override { return real_->Populated(name); }
  std::shared_ptr<std::atomic<int>> procs_asked() const { return procs_asked_; }

 private:
  std::unique_ptr<CgroupDriver> real_;
  std::shared_ptr<std::atomic<int>> procs_asked_ = std::make_shared<std::atomic<int>>(0);
};

// On cgroup v2 an init from the zygote is born in its container's cgroup (CLONE_INTO_CGROUP):
// nothing writes cgroup.procs. This machine's controllers are on v1; the unified hierarchy
// beside them places processes all the same.
TEST(LinuxRuntimeV2Test, AnInitFromTheZygoteIsBornInItsCgroup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for namespaces and cgroups";
  std::string own = berth::testing::OwnUnifiedCgroup();
  if (own.empty()) GTEST_SKIP() << "no cgroup2 hierarchy mounted here";
  std::string base = own + "/berth-unit-v2-" + std::to_string(getpid());
  if (mkdir(base.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create a cgroup under " << own;
  std::string tmpl = (fs::temp_directory_path() / "berth-runtime-v2-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  {
    LinuxRuntimeOptions options;
    options.state_dir = dir + "/state";
    options.init_path = BERTH_CONTAINER_INIT;
    auto driver = std::make_unique<ProcsCountingDriver>(MakeCgroupV2Driver(base));
    std::shared_ptr<std::atomic<int>> procs_asked = driver->procs_asked();
    options.cgroups = std::move(driver);
    auto runtime = LinuxRuntime::Create(std::move(options));
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    std::mutex mu;
    std::condition_variable cv;
    bool exited = false;
    (*runtime)->SetExitCallback([&](const ContainerStatus&) {
      std::lock_guard<std::mutex> lock(mu);
      exited = true;
      cv.notify_all();
    });
    ASSERT_NE((*runtime)->init_zygote_pid(), 0);
    ContainerSpec spec;
    spec.id = "born";
    spec.pod_key = "default/born";
    spec.container_name = "c";
    spec.argv = {"/bin/sh", "-c", "cat /proc/self/cgroup; sleep 30"};
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.log_path = dir + "/logs/born/0.log";
    ASSERT_TRUE((*runtime)->Start(spec).ok());
    ContainerStatus st = *(*runtime)->Inspect("born");
    EXPECT_EQ((*runtime)->init_zygote_clones(), 1u);
    EXPECT_EQ(procs_asked->load(), 0) << "the init was moved into its cgroup, not born there";
    std::string cgroup = Slurp("/proc/" + std::to_string(st.pid) + "/cgroup");
    EXPECT_NE(cgroup.find("berth-unit-v2-" + std::to_string(getpid()) + "/born\n"), std::string::npos) << cgroup;
    ASSERT_TRUE((*runtime)->Stop("born", absl::Milliseconds(100)).ok());
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return exited; });
    }
    EXPECT_TRUE(exited);
    EXPECT_TRUE((*runtime)->Remove("born").ok());
    EXPECT_TRUE((*runtime)->RemoveCgroupSubtree().ok());
  }
  rmdir(base.c_str());
  fs::remove_all(dir);
}

TEST_F(LinuxRuntimeTest, ASpareInitSeesVolumesMountedAfterItWasMade) {
  // A spare waits in the agent's mount namespace and makes its own only when released: a
  // volume the agent mounts after the spare was cloned is what the container sees, not the
  // empty directory beneath it.
  ASSERT_TRUE(WaitForSpares(*runtime_, runtime_->cgroups().CanRename() ? 2 : 0));
  std::string volume = dir_ + "/volume";
  fs::create_directories(volume);
  ASSERT_EQ(mount("tmpfs", volume.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  { std::ofstream(volume + "/greeting") << "mounted later\n"; }
  ContainerSpec spec = Spec("volume-reader", "cat /mnt/volume/greeting");
  spec.mounts.push_back({volume, "/mnt/volume", true});
  absl::Status started = runtime_->Start(spec);
  ContainerStatus s = started.ok() ? WaitExited("volume-reader") : ContainerStatus{};
  umount2(volume.c_str(), MNT_DETACH);
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_NE(Slurp(spec.log_path).find(" stdout F mounted later\n"), std::string::npos) << Slurp(spec.log_path);
}

TEST_F(LinuxRuntimeTest, AMemoryLimitBelowWhatASpareHoldsStillSaysWhyTheStartFailed) {
  ASSERT_TRUE(WaitForSpares(*runtime_, runtime_->cgroups().CanRename() ? 2 : 0));
  ContainerSpec spec = Spec("tiny", "true");
  spec.memory_limit_bytes = 4096;
  absl::Status s = runtime_->Start(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("memory limit (4096 bytes) is too small"), absl::string_view::npos) << s;
}

TEST_F(LinuxRuntimeTest, AnEndReportedBeforeTheInitIsGoneLeavesNothingRunningAndIsWaitedFor) {
  // The init reports the end once recorded, before its own exit unmounts the root: what the
  // main process left behind is killed first, and a new run and Remove wait for the init.
  ContainerSpec spec = Spec("orphans", "sleep 30 & sleep 30 & exit 5");
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ContainerStatus s = WaitExited("orphans");
  EXPECT_EQ(s.exit_code, 5);
  for (const std::string& procs : runtime_->cgroups().ProcsFiles("orphans")) {
    std::istringstream in(Slurp(procs));  // gone already, or holding the init alone
    for (int64_t pid; in >> pid;) EXPECT_EQ(pid, s.pid) << procs;
  }
  ASSERT_TRUE(runtime_->Start(spec).ok());  // the same id at once: waits for the last init
  ContainerStatus again = WaitExited("orphans");
  EXPECT_EQ(again.runs, 2);
  EXPECT_EQ(again.exit_code, 5);
  ASSERT_TRUE(runtime_->Remove("orphans").ok());
  for (const std::string& procs : runtime_->cgroups().ProcsFiles("orphans")) {
    EXPECT_FALSE(fs::exists(fs::path(procs).parent_path())) << "removed with its container";
  }
}

TEST_F(LinuxRuntimeTest, ASecondRuntimeWaitsForAnInitStillExitingAfterItsEndWasRecorded) {
  // The last agent stopped between the "recorded" report and the init's exit: the checkpoint
  // says ended, the init still lives. The next runtime watches it; Remove waits for it.
  ASSERT_TRUE(runtime_->Start(Spec("tearing", "sleep 30")).ok());
  ContainerStatus st = *runtime_->Inspect("tearing");
  std::string cgroup_dir = fs::path(runtime_->cgroups().ProcsFiles("tearing")[0]).parent_path().string();
  runtime_.reset();
  auto checkpoint = ReadCheckpoint(RecordPath(dir_ + "/state", "tearing"));
  ASSERT_TRUE(checkpoint.has_value());
  checkpoint->status.state = State::kExited;
  ASSERT_TRUE(WriteCheckpoint(RecordPath(dir_ + "/state", "tearing"), *checkpoint).ok());
  auto again = Make();
  ASSERT_TRUE(again.ok()) << again.status();
  runtime_ = *std::move(again);
  EXPECT_EQ(runtime_->Inspect("tearing")->state, State::kExited);
  absl::Status removed = absl::UnknownError("not run");
  std::thread remover([&] { removed = runtime_->Remove("tearing"); });
  usleep(50 * 1000);  // Remove is (most likely) waiting now; it must not fail on the busy cgroup
  kill(static_cast<pid_t>(st.pid), SIGKILL);
  remover.join();
  EXPECT_TRUE(removed.ok()) << removed;
  EXPECT_FALSE(fs::exists(cgroup_dir));
}

TEST_F(LinuxRuntimeTest, ASecondRuntimeReadoptsRunningContainers) {
  ASSERT_TRUE(runtime_->Start(Spec("long", "sleep 30")).ok());
  ASSERT_TRUE(runtime_->Start(Spec("short", "sleep 0.2; exit 4")).ok());
  int64_t pid = runtime_->Inspect("long")->pid;
  runtime_.reset();  // as if the agent died: its containers keep running
  ASSERT_EQ(kill(static_cast<pid_t>(pid), 0), 0);
  usleep(500 * 1000);  // let "short" end while no runtime watches
  auto again = Make();
  ASSERT_TRUE(again.ok()) << again.status();
  runtime_ = *std::move(again);
  ContainerStatus s = *runtime_->Inspect("long");
  EXPECT_EQ(s.state, State::kRunning);
  EXPECT_EQ(s.pid, pid);
  EXPECT_EQ(s.runs, 1);
  ContainerStatus gone = WaitExited("short");
  EXPECT_EQ(gone.exit_code, 4);
  ASSERT_TRUE(runtime_->Stop("long", absl::Milliseconds(100)).ok());
  EXPECT_EQ(runtime_->Inspect("long")->state, State::kExited);
}

TEST_F(LinuxRuntimeTest, AnImageStartTakesASpareRootAndEveryRunWritesAFreshLayer) {
  if (!fs::exists("/usr/bin/busybox")) GTEST_SKIP() << "needs busybox-static for an image root";
  const std::string state = dir_ + "/state";
  ContainerSpec first = Spec("first", "cat /etc/marker; echo first > /written");
  first.image_layers = {MakeLayer(dir_ + "/layer", "image one")};
  ASSERT_TRUE(runtime_->Start(first).ok());
  EXPECT_EQ(WaitExited("first").exit_code, 0);
  EXPECT_EQ(LayerOf(state, "first"), "first") << "no root was ready for an image never started";
  // The image is in use now: roots of it are made ahead.
  ASSERT_TRUE(WaitForSpareRoots(*runtime_, 2));
  ContainerSpec second = Spec("second", "test ! -e /written && cat /etc/marker && echo second > /written");
  second.image_layers = first.image_layers;
  ASSERT_TRUE(runtime_->Start(second).ok());
  ContainerStatus s = WaitExited("second");
  EXPECT_EQ(s.exit_code, 0) << Slurp(second.log_path);
  EXPECT_NE(Slurp(second.log_path).find(" stdout F image one\n"), std::string::npos) << Slurp(second.log_path);
  const std::string layer = LayerOf(state, "second");
  EXPECT_TRUE(layer.starts_with(SpareRoots::kLayerPrefix)) << layer;
  // What the container wrote is in its writable layer, and only there.
  EXPECT_EQ(Slurp(WritableLayerUpper(state, layer) + "/written"), "second\n");
  EXPECT_EQ(Slurp(WritableLayerUpper(state, "first") + "/written"), "first\n");
  EXPECT_FALSE(fs::exists(first.image_layers[0] + "/written"));
  // A second run of the same container starts from a fresh layer; the last one goes.
  ASSERT_TRUE(WaitForSpareRoots(*runtime_, 2));
  ASSERT_TRUE(runtime_->Start(second).ok());
  EXPECT_EQ(WaitExited("second").exit_code, 0) << Slurp(second.log_path);
  const std::string next = LayerOf(state, "second");
  EXPECT_NE(next, layer);
  EXPECT_FALSE(fs::exists(WritableLayerUpper(state, layer)));
  EXPECT_FALSE(fs::exists(WritableLayerWork(state, layer)));
  ASSERT_TRUE(runtime_->Remove("second").ok());
  EXPECT_FALSE(fs::exists(WritableLayerUpper(state, next)));
  EXPECT_FALSE(fs::exists(WritableLayerWork(state, next)));
}

TEST_F(LinuxRuntimeTest, ASpareRootOfAnImagePulledAgainIsNotUsed) {
  if (!fs::exists("/usr/bin/busybox")) GTEST_SKIP() << "needs busybox-static for an image root";
  ContainerSpec spec = Spec("reader", "cat /etc/marker");
  spec.image_layers = WarmImage("old pull");
  const std::string layer = spec.image_layers[0];
  // The image deleted and unpacked again at the same path: the roots built over the old
  // directory would show its unlinked files.
  fs::rename(layer, dir_ + "/layer-old");
  MakeLayer(layer, "new pull");
  fs::remove_all(dir_ + "/layer-old");
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ContainerStatus s = WaitExited("reader");
  EXPECT_EQ(s.exit_code, 0) << Slurp(spec.log_path);
  EXPECT_NE(Slurp(spec.log_path).find(" stdout F new pull\n"), std::string::npos) << Slurp(spec.log_path);
}

TEST_F(LinuxRuntimeTest, SpareRootsLeftByAnAgentThatDiedAreRemovedAndAContainersLayerIsKept) {
  if (!fs::exists("/usr/bin/busybox")) GTEST_SKIP() << "needs busybox-static for an image root";
  const std::string state = dir_ + "/state";
  ContainerSpec running = Spec("running", "sleep 30");
  running.image_layers = WarmImage("image");
  ASSERT_TRUE(runtime_->Start(running).ok());
  const std::string layer = LayerOf(state, "running");
  ASSERT_TRUE(layer.starts_with(SpareRoots::kLayerPrefix)) << layer;
  runtime_.reset();  // unmounts and removes its own spares
  // What a killed agent leaves: spare layers no container took.
  fs::create_directories(WritableLayerUpper(state, "spare-root-999"));
  fs::create_directories(WritableLayerWork(state, "spare-root-999"));
  auto again = Make();
  ASSERT_TRUE(again.ok()) << again.status();
  runtime_ = *std::move(again);
  EXPECT_FALSE(fs::exists(WritableLayerUpper(state, "spare-root-999")));
  EXPECT_FALSE(fs::exists(WritableLayerWork(state, "spare-root-999")));
  EXPECT_TRUE(fs::exists(WritableLayerUpper(state, layer))) << "the re-adopted container's layer";
  EXPECT_EQ(runtime_->Inspect("running")->state, State::kRunning);
  ASSERT_TRUE(runtime_->Stop("running", absl::Milliseconds(100)).ok());
  ASSERT_TRUE(runtime_->Remove("running").ok());
  EXPECT_FALSE(fs::exists(WritableLayerUpper(state, layer)));
}

TEST_F(LinuxRuntimeTest, AStartOfTheLatestImageTakesASpareWithItsRootBuiltAndGetsEverythingElseFresh) {
  if (!fs::exists("/usr/bin/busybox")) GTEST_SKIP() << "needs busybox-static for an image root";
  if (!runtime_->cgroups().CanRename()) GTEST_SKIP() << "spare inits need cgroup v1";
  const std::string state = dir_ + "/state";
  ContainerSpec spec = Spec("prepared", R"(cat /etc/marker; cat /mnt/volume/greeting; hostname;
      echo x > /mnt/volume/written || echo volume read-only;
      test -d /sys/kernel && echo sysfs; test -s /proc/kcore || echo kcore masked;
      test -c /dev/null && test ! -e /dev/kmsg && echo minimal dev; echo net $(ls /sys/class/net); echo mine > /written)");
  spec.network_namespace = true;  // its /sys is of that namespace: mounted after it was made
  spec.image_layers = WarmImage("image");
  for (int i = 0; i < 4000 && runtime_->prepared_spare_inits_ready() < 1; ++i) usleep(5000);
  ASSERT_GE(runtime_->prepared_spare_inits_ready(), 1u) << "no spare was prepared for the image started last";
  // Mounted after the spare built its root: the container sees it, read-only as asked.
  std::string volume = dir_ + "/volume";
  fs::create_directories(volume);
  ASSERT_EQ(mount("tmpfs", volume.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  { std::ofstream(volume + "/greeting") << "mounted later\n"; }
  spec.mounts.push_back({volume, "/mnt/volume", true});
  absl::Status started = runtime_->Start(spec);
  ContainerStatus s = started.ok() ? WaitExited("prepared") : ContainerStatus{};
  const bool volume_untouched = !fs::exists(volume + "/written");
  umount2(volume.c_str(), MNT_DETACH);
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(runtime_->starts_on_prepared_roots(), 1u);
  EXPECT_EQ(s.exit_code, 0) << Slurp(spec.log_path);
  const std::string log = Slurp(spec.log_path);
  for (const char* line :
       {"image", "mounted later", "prepared", "volume read-only", "sysfs", "kcore masked", "minimal dev", "net lo"}) {
    EXPECT_NE(log.find(std::string(" stdout F ") + line + "\n"), std::string::npos) << line << " in\n" << log;
  }
  EXPECT_TRUE(volume_untouched);
  // Its writes are in the layer it took with the spare, and that layer goes with it.
  const std::string layer = LayerOf(state, "prepared");
  ASSERT_TRUE(layer.starts_with(SpareRoots::kLayerPrefix)) << layer;
  EXPECT_EQ(Slurp(WritableLayerUpper(state, layer) + "/written"), "mine\n");
  ASSERT_TRUE(runtime_->Remove("prepared").ok());
  EXPECT_FALSE(fs::exists(WritableLayerUpper(state, layer)));
}

TEST_F(LinuxRuntimeTest, AStartOfAnotherImageOrAPrivilegedOneDoesNotTakeASparePreparedForAnImage) {
  if (!fs::exists("/usr/bin/busybox")) GTEST_SKIP() << "needs busybox-static for an image root";
  if (!runtime_->cgroups().CanRename()) GTEST_SKIP() << "spare inits need cgroup v1";
  WarmImage("image");
  for (int i = 0; i < 4000 && runtime_->prepared_spare_inits_ready() < 1; ++i) usleep(5000);
  ASSERT_GE(runtime_->prepared_spare_inits_ready(), 1u);
  ContainerSpec other = Spec("other", "cat /etc/marker");
  other.image_layers = {MakeLayer(dir_ + "/other-layer", "other image")};
  ContainerSpec privileged = Spec("privileged", "cat /etc/marker; test -e /dev/kmsg && echo host dev");
  privileged.image_layers = {dir_ + "/layer"};
  privileged.privileged = true;
  for (ContainerSpec* spec : {&other, &privileged}) {
    ASSERT_TRUE(runtime_->Start(*spec).ok()) << spec->id;
    EXPECT_EQ(WaitExited(spec->id).exit_code, 0) << Slurp(spec->log_path);
  }
  EXPECT_EQ(runtime_->starts_on_prepared_roots(), 0u);
  EXPECT_NE(Slurp(other.log_path).find(" stdout F other image\n"), std::string::npos) << Slurp(other.log_path);
  EXPECT_NE(Slurp(privileged.log_path).find(" stdout F host dev\n"), std::string::npos) << Slurp(privileged.log_path);
}

TEST_F(LinuxRuntimeTest, AReadOnlyRootFileSystemFromASpareRootRefusesWrites) {
  if (!fs::exists("/usr/bin/busybox")) GTEST_SKIP() << "needs busybox-static for an image root";
  ContainerSpec spec = Spec("ro", "echo x > /written; test ! -e /written && cat /etc/marker");
  spec.image_layers = WarmImage("image");
  spec.read_only_rootfs = true;
  ASSERT_TRUE(runtime_->Start(spec).ok());
  EXPECT_TRUE(LayerOf(dir_ + "/state", "ro").starts_with(SpareRoots::kLayerPrefix));
  EXPECT_EQ(WaitExited("ro").exit_code, 0) << Slurp(spec.log_path);
  EXPECT_NE(Slurp(spec.log_path).find("Read-only file system"), std::string::npos) << Slurp(spec.log_path);
}

}  // namespace
}  // namespace berth::agent::runtime
