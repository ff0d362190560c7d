#include "kubelet-like-agent/runtime/linux/linux_runtime.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "core/log/log.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/runtime/linux/exec_in_container.h"
#include "kubelet-like-agent/runtime/linux/launcher.h"
#include "kubelet-like-agent/runtime/linux/records.h"

namespace berth::agent::runtime {

namespace fs = std::filesystem;

namespace {

absl::Status MakeMountPointSkeleton(const std::string& dir) {
  std::error_code ec;
  // Directories: where the init mounts /dev, /proc, /sys, /tmp, and the token volume.
  for (const char* d : {"dev", "proc", "sys", "tmp", "run/secrets/kubernetes.io/serviceaccount",
                        "var/run/secrets/kubernetes.io/serviceaccount", "etc"}) {
    fs::create_directories(StrCat(dir, "/", d), ec);
    if (ec) return absl::UnavailableError(StrCat("mount point skeleton ", dir, "/", d, ": ", ec.message()));
  }
  fs::permissions(dir + "/tmp", fs::perms::all | fs::perms::sticky_bit, ec);
  // Files: where the pod network binds the pod's hosts and resolv.conf.
  for (const char* f : {"etc/hosts", "etc/resolv.conf"}) {
    const std::string path = StrCat(dir, "/", f);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return absl::UnavailableError(StrCat("mount point skeleton ", path, ": ", std::strerror(errno)));
    close(fd);
  }
  return absl::OkStatus();
}

// Marks `dir` as the top of a directory hierarchy (chattr +T) where the file system knows the
// flag: ext4 then places each new subdirectory in a block group of its own choosing (Orlov)
// instead of its parent's. A writable layer's directories, and the files overlayfs makes and
// deletes in its work directory at every mount, land away from the state directory's group.
// On an ext4 without a journal each new inode is checked against every inode of its group freed
// in the last 30 s; with every layer in one group, a spare root cost ~2 ms of CPU in that scan
// and the record file of each start up to 1 ms. Best effort: elsewhere it changes nothing.
void SpreadSubdirectories(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_TOPDIR_FL) == 0) {
    flags |= FS_TOPDIR_FL;
    (void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  close(fd);
}

}  // namespace

// Builds a spare init's root ahead for the image started last, from one of its spare roots:
// a start of that image then finds the overlay attached, /dev and /proc mounted and pivot_root
// done, ~0.3 ms of its path on this machine. Once preparing fails (an init that cannot, say),
// spares stay unprepared: starts build their roots as before.
class SpareRootPreparer final : public SparePreparer {
 public:
  SpareRootPreparer(std::string state_dir, SpareRoots& roots) : state_dir_(std::move(state_dir)), roots_(roots) {}

  std::optional<SparePreparation> Prepare(WaitingInit& init, bool& lost) override {
    lost = false;
    if (failed_) return std::nullopt;
    std::vector<std::string> image;
    std::optional<PreparedRoot> root = roots_.TakeForLatestImage(image);
    if (!root) return std::nullopt;
    absl::Status prepared = PrepareInit(init, RootMountPoint(state_dir_), absl::StrJoin(image, ":"), root->mount_fd);
    close(root->mount_fd);  // attached in the init's namespace now, or unmounted
    if (prepared.ok()) {
      // As the spare root was checked when taken: what its lower directories are now.
      std::optional<std::vector<SpareRoots::Identity>> identity = SpareRoots::Identify(image);
      return SparePreparation{std::move(image), root->layer, identity ? Pairs(*identity) : Pairs({})};
    }
    // An init that said why it could not (or died) will say so again: stop asking. One that had
    // no CPU to answer in time is only a busy node.
    if (prepared.code() != absl::StatusCode::kDeadlineExceeded) {
      BERTH_LOG(Warning, "agent.runtime", "Cannot build a spare init's root ahead; starts build their own", "error",
                prepared.ToString());
      failed_ = true;
    }
    DiscardWaitingInit(init);
    RemoveWritableLayer(state_dir_, root->layer);
    lost = true;
    return std::nullopt;
  }

  bool StillCurrent(const SparePreparation& preparation) override {
    std::optional<std::vector<SpareRoots::Identity>> identity = SpareRoots::Identify(preparation.image);
    return identity && !preparation.lower_identity.empty() && Pairs(*identity) == preparation.lower_identity;
  }

  void Forget(const SparePreparation& preparation) override { RemoveWritableLayer(state_dir_, preparation.layer); }

 private:
  static std::vector<std::pair<uint64_t, uint64_t>> Pairs(const std::vector<SpareRoots::Identity>& identity) {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const SpareRoots::Identity& i : identity) out.emplace_back(i.dev, i.ino);
    return out;
  }

  const std::string state_dir_;
  SpareRoots& roots_;
  bool failed_ = false;  // the spare thread's only
};

absl::StatusOr<std::unique_ptr<LinuxRuntime>> LinuxRuntime::Create(LinuxRuntimeOptions options) {
  if (options.cgroups == nullptr) return absl::InvalidArgumentError("LinuxRuntime needs a cgroup driver");
  if (access(options.init_path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(StrCat("container init ", options.init_path, " is not executable"));
  }
  std::error_code ec;
  fs::create_directories(options.state_dir + "/containers", ec);
  if (!ec) fs::create_directories(RootMountPoint(options.state_dir), ec);
  if (!ec) fs::create_directories(WritableLayerUpper(options.state_dir, ""), ec);
  if (!ec) fs::create_directories(WritableLayerWork(options.state_dir, ""), ec);
  if (ec) return absl::UnavailableError(StrCat("state dir ", options.state_dir, ": ", ec.message()));
  SpreadSubdirectories(WritableLayerUpper(options.state_dir, ""));
  SpreadSubdirectories(WritableLayerWork(options.state_dir, ""));
  if (absl::Status s = MakeMountPointSkeleton(MountPointSkeleton(options.state_dir)); !s.ok()) return s;
  std::unique_ptr<LinuxRuntime> rt(new LinuxRuntime(std::move(options)));
  if (!rt->monitor_.ok()) return absl::InternalError("epoll/eventfd failed");
  rt->Recover();
  rt->RemoveUnusedWritableLayers();
  if (rt->options_.spare_roots > 0) rt->roots_ = std::make_unique<SpareRoots>(rt->options_.state_dir, rt->options_.spare_roots);
  if (rt->options_.init_zygote) {
    if (auto zygote = InitZygote::Start(rt->options_.init_path); zygote.ok()) {
      rt->zygote_ = *std::move(zygote);
    } else {
      BERTH_LOG(Warning, "agent.runtime", "No container init zygote; every init is exec'd", "error",
                zygote.status().ToString());
    }
  }
  if (rt->options_.spare_inits > 0 && rt->options_.cgroups->CanRename()) {
    if (rt->roots_) rt->preparer_ = std::make_unique<SpareRootPreparer>(rt->options_.state_dir, *rt->roots_);
    rt->spares_ = std::make_unique<SpareInits>(rt->options_.init_path, *rt->options_.cgroups, rt->options_.spare_inits,
                                               rt->zygote_.get(), rt->preparer_.get());
  }
  return rt;
}

LinuxRuntime::LinuxRuntime(LinuxRuntimeOptions options)
    : options_(std::move(options)), monitor_([this](const std::vector<ExitMonitor::Ended>& ended) { OnExited(ended); }) {}

// Containers keep running: the next agent re-adopts them (stopping them is the drain's job).
// The spares go first: their thread uses the spare roots and the preparer. The monitor
// (declared last) stops before the rest.
LinuxRuntime::~LinuxRuntime() { spares_.reset(); }

absl::Status LinuxRuntime::RemoveCgroupSubtree() {
  spares_.reset();  // ended before the preparer and roots they use
  return options_.cgroups->RemoveSubtree();
}

void LinuxRuntime::SetExitCallback(std::function<void(const ContainerStatus&)> on_exit) {
  std::lock_guard<std::mutex> lock(mu_);
  on_exit_ = std::move(on_exit);
}

void LinuxRuntime::CheckpointLocked(const Container& c) const {
  absl::Status s = WriteCheckpoint(RecordPath(options_.state_dir, c.status.id),
                                   Checkpoint{c.status, c.cgroup, c.start_ticks, c.writable_layer});
  if (!s.ok()) BERTH_LOG(Error, "agent.runtime", "Cannot checkpoint a container", "id", c.status.id, "error", s.ToString());
}

void LinuxRuntime::Watch(Container& c, int notice_fd) { monitor_.Watch(c.status.id, c.status.pid, notice_fd); }

void LinuxRuntime::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.state_dir + "/containers", ec)) {
    if (!absl::EndsWith(entry.path().filename().string(), Sv(kRecordSuffix))) continue;
    std::optional<Checkpoint> checkpoint = ReadCheckpoint(entry.path().string());
    if (!checkpoint) continue;
    Container c;
    c.status = std::move(checkpoint->status);
    c.cgroup = std::move(checkpoint->cgroup);
    c.start_ticks = checkpoint->start_ticks;
    c.writable_layer = std::move(checkpoint->writable_layer);
    auto [it, inserted] = containers_.emplace(c.status.id, std::move(c));
    Container& rec = it->second;
    if (!checkpoint->running) {
      rec.status.state = State::kExited;
      // Its end was reported while the init still tore down (the last agent stopped in that
      // window): watch it go, so the cgroup is removed then and Remove waits for it.
      if (rec.status.pid > 0 && ProcessStartTicks(rec.status.pid) == rec.start_ticks) {
        rec.init_exiting = true;
        Watch(rec);
      }
      continue;
    }
    // The same PID with the same start time is the same process: PIDs are reused, start times
    // are not.
    if (rec.status.pid > 0 && ProcessStartTicks(rec.status.pid) == rec.start_ticks) {
      rec.status.state = State::kRunning;
      Watch(rec);
      BERTH_LOG(Info, "agent.runtime", "Re-adopted a running container", "id", rec.status.id, "pid", rec.status.pid);
    } else {
      MarkExitedLocked(rec, 0, false);
      BERTH_LOG(Info, "agent.runtime", "A container ended while the agent was away", "id", rec.status.id,
                "exit_code", rec.status.exit_code, "reason", rec.status.reason);
    }
  }
}

void LinuxRuntime::RemoveUnusedWritableLayers() {
  std::set<std::string> used;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, c] : containers_) used.insert(c.writable_layer);
  }
  std::error_code ec;
  for (const std::string& parent : {WritableLayerUpper(options_.state_dir, ""), WritableLayerWork(options_.state_dir, "")}) {
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
      const std::string name = entry.path().filename().string();
      // Only spare roots: a layer named after a container is replaced at its next start and
      // removed with it, as before.
      if (name.starts_with(SpareRoots::kLayerPrefix) && !used.contains(name)) fs::remove_all(entry.path(), ec);
    }
  }
}

void LinuxRuntime::MarkExitedLocked(Container& c, int wait_status, bool have_wait_status, bool init_gone) {
  ContainerStatus& s = c.status;
  s.message.clear();
  std::string recorded_reason;
  if (std::optional<ExitRecord> recorded = ReadExitRecord(RecordPath(options_.state_dir, s.id), s.runs)) {
    s.exit_code = recorded->exit_code;
    s.signal = recorded->signal;
    s.finished_at = ParseRfc3339(recorded->finished_at, options_.clock->Now());
    recorded_reason = recorded->reason;
    s.message = recorded->message;
  } else if (have_wait_status) {
    s.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
    s.signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
    s.finished_at = options_.clock->Now();
  } else {
    // The init was killed before it could record anything (kill -9 of the container's PID 1).
    s.exit_code = 137;
    s.signal = SIGKILL;
    s.finished_at = options_.clock->Now();
  }
  // The OOM count is read only for an end the OOM killer could have caused: one file read less
  // on every other exit.
  auto oom_killed = [&] { return !c.cgroup.empty() && options_.cgroups->OomKills(c.cgroup) > c.oom_kills_at_start; };
  if (!recorded_reason.empty()) {
    s.reason = recorded_reason;  // StartError: the workload never ran
  } else if ((s.signal == SIGKILL || s.exit_code == 137) && oom_killed()) {
    s.reason = "OOMKilled";
  } else {
    s.reason = s.exit_code == 0 ? "Completed" : "Error";
  }
  s.state = State::kExited;
  c.init_exiting = !init_gone;
  if (init_gone) {
    monitor_.Unwatch(s.id);
    // The namespace is gone with its init; the cgroup empties a moment later.
    if (!c.cgroup.empty()) (void)options_.cgroups->Remove(c.cgroup);
  }
  CheckpointLocked(c);
}

void LinuxRuntime::OnExited(const std::vector<ExitMonitor::Ended>& ended) {
  std::vector<ContainerStatus> reported;
  std::function<void(const ContainerStatus&)> callback;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const ExitMonitor::Ended& e : ended) {
      auto c = containers_.find(e.id);
      if (c == containers_.end()) {
        monitor_.Unwatch(e.id);
        continue;
      }
      Container& rec = c->second;
      if (!e.init_gone) {
        // Recorded: every process of the container is gone and its logs are flushed; the
        // init's own exit (unmounting the root, ending the namespaces) goes on meanwhile.
        if (rec.status.state != State::kRunning) continue;
        MarkExitedLocked(rec, 0, false, /*init_gone=*/false);
        reported.push_back(rec.status);
        continue;
      }
      int status = 0;
      // Our own child: reap it. An adopted one (earlier agent run) belongs to another parent.
      bool reaped = waitpid(static_cast<pid_t>(rec.status.pid), &status, WNOHANG) > 0;
      if (rec.status.state == State::kRunning) {
        MarkExitedLocked(rec, status, reaped);  // killed before it could record, or adopted
        reported.push_back(rec.status);
      } else {
        rec.init_exiting = false;
        monitor_.Unwatch(e.id);
        if (!rec.cgroup.empty()) (void)options_.cgroups->Remove(rec.cgroup);
      }
    }
    callback = on_exit_;
  }
  exited_cv_.notify_all();
  if (callback) {
    for (const ContainerStatus& s : reported) callback(s);
  }
}

absl::Status LinuxRuntime::WaitForInitGone(std::unique_lock<std::mutex>& lock, std::string_view id) {
  auto exiting = [&] {
    auto it = containers_.find(id);
    return it != containers_.end() && it->second.init_exiting;
  };
  // An init's exit is an unmount and the end of its namespaces: milliseconds. The deadline is
  // for a kernel that hangs in it.
  if (exited_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return !exiting(); })) return absl::OkStatus();
  return absl::UnavailableError(StrCat("the init of container ", id, " has not exited yet"));
}

absl::Status LinuxRuntime::Start(const ContainerSpec& spec) {
  std::unique_lock<std::mutex> lock(mu_);
  // The launch itself runs without mu_: directories, clone and cgroups take milliseconds, and
  // holding the lock made every other pod's start, inspect and exit wait behind them.
  // `starting_` keeps a second Start, Stop or Remove of the same id out meanwhile.
  started_cv_.wait(lock, [&] { return !starting_.contains(spec.id); });
  // A new run of the id waits for the last one's init to be gone (its cgroup has the same name).
  if (absl::Status s = WaitForInitGone(lock, spec.id); !s.ok()) return s;
  started_cv_.wait(lock, [&] { return !starting_.contains(spec.id); });
  int runs = spec.previous_runs;
  std::string previous_layer;
  if (auto it = containers_.find(spec.id); it != containers_.end()) {
    if (it->second.status.state == State::kRunning) return absl::AlreadyExistsError(StrCat("container ", spec.id, " is running"));
    // Counting goes on from the API's figure when the records were lost (a reboot).
    runs = std::max(it->second.status.runs, spec.previous_runs);
    previous_layer = it->second.writable_layer;
  }
  starting_.insert(spec.id);
  lock.unlock();
  std::string layer;
  auto launched = Launch(spec, runs, layer);
  // A new run starts from a fresh writable layer, as a new container does in Kubernetes.
  if (launched.ok() && previous_layer != layer) RemoveWritableLayer(options_.state_dir, previous_layer);
  lock.lock();
  starting_.erase(spec.id);
  started_cv_.notify_all();
  Container& c = containers_[spec.id];
  if (!launched.ok()) return launched.status();
  c.writable_layer = layer;
  c.cgroup = launched->cgroup;
  c.oom_kills_at_start = launched->oom_kills_at_start;
  std::string previous = c.status.log_path;
  c.status = ContainerStatus{};
  c.status.id = spec.id;
  c.status.pod_key = spec.pod_key;
  c.status.pod_uid = spec.pod_uid;
  c.status.container_name = spec.container_name;
  c.status.state = State::kRunning;
  c.status.pid = launched->pid;
  c.status.started_at = options_.clock->Now();
  c.status.runs = runs + 1;
  c.status.log_path = spec.log_path;
  c.status.previous_log_path = previous;
  c.status.spec_hash = spec.spec_hash;
  c.start_ticks = ProcessStartTicks(launched->pid);
  c.init_exiting = false;
  Watch(c, launched->notice_fd);
  CheckpointLocked(c);
  return absl::OkStatus();
}

absl::StatusOr<LaunchedInit> LinuxRuntime::Launch(const ContainerSpec& spec, int runs, std::string& writable_layer) {
  if (!spec.log_path.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(spec.log_path).parent_path(), ec);
  }
  RootDirs root;
  // Image roots and unprivileged host roots (a read-only view of "/") are mounted there.
  const bool host_root = spec.image_layers.empty() && spec.rootfs.empty() && !spec.privileged;
  if (!spec.image_layers.empty() || host_root) root.mount_point = RootMountPoint(options_.state_dir);
  std::vector<std::string> lower;  // an image root's layers: what spare roots are kept by
  if (!spec.image_layers.empty()) {
    root.skeleton = MountPointSkeleton(options_.state_dir);
    lower = spec.image_layers;
    lower.push_back(root.skeleton);
  }
  // A privileged container's root differs (the host's /dev, nothing masked): it never takes a
  // spare whose root was built ahead.
  std::optional<SpareInits::Taken> spare_init;
  if (spares_) spare_init = spares_->Take(spec.id, lower.empty() || spec.privileged ? nullptr : &lower);
  std::optional<PreparedRoot> spare_root;
  if (!lower.empty()) {
    if (spare_init && spare_init->prepared) {
      writable_layer = spare_init->prepared->layer;  // the init's root is over it already
    } else {
      if (roots_) spare_root = roots_->Take(lower);
      writable_layer = spare_root ? spare_root->layer : spec.id;
    }
    root.upper = WritableLayerUpper(options_.state_dir, writable_layer);
    root.work = WritableLayerWork(options_.state_dir, writable_layer);
    if (spare_root) {
      root.mount_fd = spare_root->mount_fd;
    } else if (!spare_init || !spare_init->prepared) {
      // A fresh writable layer per run.
      for (const std::string& d : {root.upper, root.work}) {
        if (absl::Status s = MakeEmptyDirectory(d); !s.ok()) {
          if (spare_init) {
            DiscardWaitingInit(spare_init->init);
            (void)options_.cgroups->Remove(spec.id);
          }
          return s;
        }
      }
    }
  }
  const bool spare_layer = spare_root || (spare_init && spare_init->prepared);
  auto launched = LaunchContainerInit(spec, runs + 1, options_.init_path, root, RecordPath(options_.state_dir, spec.id),
                                      StdinFifoPath(options_.state_dir, spec.id), *options_.cgroups,
                                      spare_init ? std::optional<WaitingInit>(spare_init->init) : std::nullopt,
                                      zygote_.get());
  if (root.mount_fd >= 0) close(root.mount_fd);  // the init holds it now, or it is unmounted
  if (!launched.ok() && spare_layer) RemoveWritableLayer(options_.state_dir, writable_layer);
  if (launched.ok() && spare_init && spare_init->prepared) starts_on_prepared_roots_++;
  return launched;
}

absl::Status LinuxRuntime::Stop(std::string_view id, absl::Duration grace) {
  std::unique_lock<std::mutex> lock(mu_);
  started_cv_.wait(lock, [&] { return !starting_.contains(id); });
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second.status.state != State::kRunning) return absl::OkStatus();
  pid_t pid = static_cast<pid_t>(it->second.status.pid);
  std::string key(id);
  auto running = [&] {
    auto c = containers_.find(key);
    return c != containers_.end() && c->second.status.state == State::kRunning && c->second.status.pid == pid;
  };
  kill(pid, SIGTERM);  // the init forwards it to the main process
  exited_cv_.wait_for(lock, absl::ToChronoNanoseconds(grace), [&] { return !running(); });
  if (running()) {
    kill(pid, SIGKILL);  // PID 1 of the namespace: everything in it dies with it
    exited_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !running(); });
  }
  if (running()) return absl::DeadlineExceededError(StrCat("container ", id, " did not stop after SIGKILL"));
  return absl::OkStatus();
}

absl::Status LinuxRuntime::Remove(std::string_view id) {
  std::unique_lock<std::mutex> lock(mu_);
  started_cv_.wait(lock, [&] { return !starting_.contains(id); });
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::OkStatus();
  if (it->second.status.state == State::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", id, " is running"));
  }
  if (absl::Status s = WaitForInitGone(lock, id); !s.ok()) return s;
  it = containers_.find(id);
  if (it == containers_.end()) return absl::OkStatus();
  if (!it->second.cgroup.empty()) {
    if (absl::Status s = options_.cgroups->Remove(it->second.cgroup); !s.ok()) return s;
  }
  unlink(StdinFifoPath(options_.state_dir, id).c_str());
  RemoveWritableLayer(options_.state_dir, it->second.writable_layer);
  if (unlink(RecordPath(options_.state_dir, id).c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(StrCat("removing the record of ", id, ": ", std::strerror(errno)));
  }
  containers_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ContainerStatus> LinuxRuntime::Inspect(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::NotFoundError(StrCat("no container ", id));
  return it->second.status;
}

absl::StatusOr<std::vector<ContainerStatus>> LinuxRuntime::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ContainerStatus> out;
  for (const auto& [id, c] : containers_) out.push_back(c.status);
  return out;
}

absl::StatusOr<LinuxRuntime::ExecTarget> LinuxRuntime::RunningTarget(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second.status.state != State::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  return ExecTarget{it->second.status.pid, options_.cgroups->ProcsFiles(it->second.cgroup)};
}

absl::StatusOr<int> LinuxRuntime::Exec(std::string_view id, const std::vector<std::string>& argv, absl::Duration timeout) {
  auto target = RunningTarget(id);
  if (!target.ok()) return target.status();
  auto code = ExecInContainer(target->init_pid, target->procs, argv, timeout, *options_.clock);
  if (!code.ok() && code.status().code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(StrCat("cannot enter the namespaces of container ", id));
  }
  return code;
}

absl::StatusOr<ExecProcess> LinuxRuntime::StartExec(std::string_view id, const ExecRequest& request) {
  auto target = RunningTarget(id);
  if (!target.ok()) return target.status();
  return StartInContainer(target->init_pid, target->procs, request);
}

void LinuxRuntime::KillExec(const ExecProcess& process) {
  if (process.process_group > 0) kill(-static_cast<pid_t>(process.process_group), SIGKILL);
  if (process.pid > 0) kill(static_cast<pid_t>(process.pid), SIGKILL);
}

absl::StatusOr<int> LinuxRuntime::WaitExec(const ExecProcess& process) {
  int status = 0;
  while (waitpid(static_cast<pid_t>(process.pid), &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(StrCat("waitpid: ", std::strerror(errno)));
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 125) return absl::UnavailableError("cannot enter the container's namespaces");
  return code;
}

absl::StatusOr<std::string> LinuxRuntime::NetworkNamespacePath(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second.status.state != State::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  return StrCat("/proc/", it->second.status.pid, "/ns/net");
}

absl::StatusOr<std::string> LinuxRuntime::StdinPath(std::string_view id) {
  std::string path = StdinFifoPath(options_.state_dir, id);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
    return absl::FailedPreconditionError("the container does not read standard input (stdin is not set)");
  }
  return path;
}

}  // namespace berth::agent::runtime
