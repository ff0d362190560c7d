#include "kubelet-like-agent/runtime/linux/linux_runtime.h"

#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"

#include "core/json/codec.h"
#include "kubelet-like-agent/init/init_spec.h"
#include "core/log/log.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::agent::runtime {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Up to `max` bytes of a file from `offset` ("" if it cannot be read): a record's checkpoint or
// its exit record, without reading the other.
std::string ReadRegion(const std::string& path, off_t offset, size_t max) {
  std::string out(max, '\0');
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = pread(fd, out.data(), max, offset);
  close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// Rewrites the checkpoint region of a container's record file in place with one pwrite, padded
// with spaces (JSON ignores them) to the fixed size that keeps it clear of the init's exit record:
// a process that dies mid-way leaves the old or the new content, and no inode is created per
// write. No fsync: checkpoints must survive the agent's death, which the page cache does; a
// machine that reboots loses its containers too, and those are then restarted per policy.
absl::Status WriteCheckpoint(const std::string& path, std::string body) {
  if (body.size() > static_cast<size_t>(kExitRecordOffset)) {
    return absl::InvalidArgumentError(StrCat("checkpoint of ", body.size(), " bytes exceeds its ", kExitRecordOffset,
                                             "-byte region in ", path));
  }
  body.append(static_cast<size_t>(kExitRecordOffset) - body.size(), ' ');
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(StrCat("open ", path, ": ", std::strerror(errno)));
  ssize_t n = pwrite(fd, body.data(), body.size(), 0);
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(body.size())) return absl::UnavailableError(StrCat("write ", path, ": ", std::strerror(err)));
  return absl::OkStatus();
}

// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. With the
// PID it names one process for good (PIDs are reused, start times are not).
uint64_t StartTicks(int64_t pid) {
  std::string stat = ReadFile(StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && (in >> field); ++i) {
    if (i == 22) return std::stoull(field);
  }
  return 0;
}

int PidfdOpen(int64_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)); }

json::Value StatusToJson(const ContainerStatus& s, const std::string& cgroup, uint64_t ticks) {
  json::Value v = json::Value::MakeObject();
  v.Set("id", s.id);
  v.Set("podKey", s.pod_key);
  v.Set("podUid", s.pod_uid);
  v.Set("containerName", s.container_name);
  v.Set("state", s.state == State::kRunning ? "running" : "exited");
  v.Set("pid", s.pid);
  v.Set("startTicks", static_cast<int64_t>(ticks));
  v.Set("exitCode", s.exit_code);
  v.Set("signal", s.signal);
  v.Set("reason", s.reason);
  if (!s.message.empty()) v.Set("message", s.message);
  v.Set("startedAt", FormatRfc3339Nano(s.started_at));
  v.Set("finishedAt", s.finished_at == absl::InfinitePast() ? "" : FormatRfc3339Nano(s.finished_at));
  v.Set("runs", s.runs);
  v.Set("logPath", s.log_path);
  v.Set("previousLogPath", s.previous_log_path);
  v.Set("specHash", s.spec_hash);
  v.Set("cgroup", cgroup);
  return v;
}

int64_t IntAt(const json::Value& v, std::string_view key) {
  const json::Value* x = v.Find(key);
  return x && x->is_int() ? x->as_int() : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LinuxRuntime>> LinuxRuntime::Create(LinuxRuntimeOptions options) {
  if (options.cgroups == nullptr) return absl::InvalidArgumentError("LinuxRuntime needs a cgroup driver");
  if (access(options.init_path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(StrCat("container init ", options.init_path, " is not executable"));
  }
  std::error_code ec;
  fs::create_directories(options.state_dir + "/containers", ec);
  if (ec) return absl::UnavailableError(StrCat("state dir ", options.state_dir, ": ", ec.message()));
  std::unique_ptr<LinuxRuntime> rt(new LinuxRuntime(std::move(options)));
  if (rt->epoll_fd_ < 0 || rt->wake_fd_ < 0) return absl::InternalError("epoll/eventfd failed");
  rt->Recover();
  rt->monitor_ = std::thread([r = rt.get()] { r->MonitorLoop(); });
  return rt;
}

LinuxRuntime::LinuxRuntime(LinuxRuntimeOptions options)
    : options_(std::move(options)), epoll_fd_(epoll_create1(EPOLL_CLOEXEC)), wake_fd_(eventfd(0, EFD_CLOEXEC)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

LinuxRuntime::~LinuxRuntime() {
  // Containers keep running: the next agent re-adopts them (stopping them is the drain's job).
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, c] : containers_) {
      if (c.pidfd >= 0) close(c.pidfd);
      c.pidfd = -1;
    }
  }
  if (monitor_.joinable()) monitor_.join();
  close(epoll_fd_);
  close(wake_fd_);
}

std::string LinuxRuntime::RecordPath(std::string_view id) const {
  return StrCat(options_.state_dir, "/containers/", id, kRecordSuffix);
}

void LinuxRuntime::SetExitCallback(std::function<void(const ContainerStatus&)> on_exit) {
  std::lock_guard<std::mutex> lock(mu_);
  on_exit_ = std::move(on_exit);
}

void LinuxRuntime::CheckpointLocked(const Container& c) const {
  absl::Status s = WriteCheckpoint(RecordPath(c.status.id), json::Serialize(StatusToJson(c.status, c.cgroup, c.start_ticks)));
  if (!s.ok()) BERTH_LOG(Error, "agent.runtime", "Cannot checkpoint a container", "id", c.status.id, "error", s.ToString());
}

void LinuxRuntime::Watch(Container& c) {
  c.pidfd = PidfdOpen(c.status.pid);
  if (c.pidfd < 0) return;
  by_pidfd_[c.pidfd] = c.status.id;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = c.pidfd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.pidfd, &ev);
}

void LinuxRuntime::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.state_dir + "/containers", ec)) {
    if (!absl::EndsWith(entry.path().filename().string(), kRecordSuffix)) continue;
    auto v = json::Parse(ReadRegion(entry.path().string(), 0, kExitRecordOffset));
    if (!v.ok()) continue;
    Container c;
    c.status.id = v->GetString({"id"});
    c.status.pod_key = v->GetString({"podKey"});
    c.status.pod_uid = v->GetString({"podUid"});
    c.status.container_name = v->GetString({"containerName"});
    c.status.pid = IntAt(*v, "pid");
    c.status.exit_code = static_cast<int>(IntAt(*v, "exitCode"));
    c.status.signal = static_cast<int>(IntAt(*v, "signal"));
    c.status.reason = v->GetString({"reason"});
    c.status.message = v->GetString({"message"});
    c.status.started_at = ParseRfc3339(v->GetString({"startedAt"}), absl::InfinitePast());
    c.status.finished_at = ParseRfc3339(v->GetString({"finishedAt"}), absl::InfinitePast());
    c.status.runs = static_cast<int>(IntAt(*v, "runs"));
    c.status.log_path = v->GetString({"logPath"});
    c.status.previous_log_path = v->GetString({"previousLogPath"});
    c.status.spec_hash = v->GetString({"specHash"});
    c.cgroup = v->GetString({"cgroup"});
    c.start_ticks = static_cast<uint64_t>(IntAt(*v, "startTicks"));
    if (c.status.id.empty()) continue;
    bool was_running = v->GetString({"state"}) == "running";
    auto [it, inserted] = containers_.emplace(c.status.id, std::move(c));
    Container& rec = it->second;
    if (!was_running) {
      rec.status.state = State::kExited;
      continue;
    }
    if (rec.status.pid > 0 && StartTicks(rec.status.pid) == rec.start_ticks) {
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

void LinuxRuntime::MarkExitedLocked(Container& c, int wait_status, bool have_wait_status) {
  ContainerStatus& s = c.status;
  auto recorded = json::Parse(ReadRegion(RecordPath(s.id), kExitRecordOffset, kExitRecordSize));
  s.message.clear();
  std::string recorded_reason;
  if (recorded.ok() && IntAt(*recorded, "run") == s.runs) {
    s.exit_code = static_cast<int>(IntAt(*recorded, "exitCode"));
    s.signal = static_cast<int>(IntAt(*recorded, "signal"));
    s.finished_at = ParseRfc3339(recorded->GetString({"finishedAt"}), options_.clock->Now());
    recorded_reason = recorded->GetString({"reason"});
    s.message = recorded->GetString({"message"});
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
  int64_t ooms = c.cgroup.empty() ? 0 : options_.cgroups->OomKills(c.cgroup);
  if (!recorded_reason.empty()) {
    s.reason = recorded_reason;  // StartError: the workload never ran
  } else if (ooms > c.oom_kills_at_start && (s.signal == SIGKILL || s.exit_code == 137)) {
    s.reason = "OOMKilled";
  } else {
    s.reason = s.exit_code == 0 ? "Completed" : "Error";
  }
  s.state = State::kExited;
  if (c.pidfd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.pidfd, nullptr);
    by_pidfd_.erase(c.pidfd);
    close(c.pidfd);
    c.pidfd = -1;
  }
  // The namespace is gone with its init; the cgroup empties a moment later.
  if (!c.cgroup.empty()) (void)options_.cgroups->Remove(c.cgroup);
  CheckpointLocked(c);
}

void LinuxRuntime::MonitorLoop() {
  epoll_event events[32];
  while (true) {
    int n = epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    std::vector<ContainerStatus> ended;
    std::function<void(const ContainerStatus&)> callback;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == wake_fd_) return;
        auto it = by_pidfd_.find(events[i].data.fd);
        if (it == by_pidfd_.end()) continue;
        auto c = containers_.find(it->second);
        if (c == containers_.end()) continue;
        int status = 0;
        // Our own child: reap it. An adopted one (earlier agent run) belongs to another parent.
        bool reaped = waitpid(static_cast<pid_t>(c->second.status.pid), &status, WNOHANG) > 0;
        MarkExitedLocked(c->second, status, reaped);
        ended.push_back(c->second.status);
      }
      callback = on_exit_;
    }
    exited_cv_.notify_all();
    if (callback) {
      for (const ContainerStatus& s : ended) callback(s);
    }
  }
}

namespace {

// What the vfork-style child needs: descriptors already duplicated above the ones it fills, so
// no dup2 can clobber another's source or keep a close-on-exec flag (dup2(fd, fd) would).
struct LaunchFds {
  int ready, spec, record, gate;
  char* init_path;
};

// Runs in the child of clone(CLONE_VM | CLONE_VFORK): it shares the agent's memory while the
// calling thread is suspended, so it makes system calls only, then execs or exits.
int ExecInit(void* arg) {
  const LaunchFds* fds = static_cast<const LaunchFds*>(arg);
  if (dup2(fds->ready, 3) < 0 || dup2(fds->spec, kInitSpecFd) < 0 || dup2(fds->record, kExitRecordFd) < 0 ||
      dup2(fds->gate, kStartGateFd) < 0) {
    _exit(126);
  }
  setsid();
  char* argv[] = {fds->init_path, nullptr};
  execv(fds->init_path, argv);
  _exit(126);
}

// Closes what it holds when the launch returns, whichever way.
struct FdCloser {
  std::vector<int> fds;
  ~FdCloser() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int Add(int fd) {
    fds.push_back(fd);
    return fd;
  }
  void CloseNow(int fd) {
    for (int& held : fds) {
      if (held == fd && fd >= 0) {
        close(fd);
        held = -1;
      }
    }
  }
};

}  // namespace

absl::Status LinuxRuntime::Start(const ContainerSpec& spec) {
  std::unique_lock<std::mutex> lock(mu_);
  Container& c = containers_[spec.id];
  if (c.status.state == State::kRunning) return absl::AlreadyExistsError(StrCat("container ", spec.id, " is running"));
  // Counting goes on from the API's figure when the records were lost (a reboot).
  const int runs = std::max(c.status.runs, spec.previous_runs);
  if (!spec.log_path.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(spec.log_path).parent_path(), ec);
  }
  FdCloser closer;

  InitSpec init_spec;
  init_spec.argv = spec.argv;
  init_spec.env = spec.env;
  for (const Mount& m : spec.mounts) init_spec.mounts.push_back({m.source, m.target, m.read_only});
  init_spec.working_dir = spec.working_dir;
  init_spec.hostname = spec.hostname;
  init_spec.rootfs = spec.rootfs;
  init_spec.network_namespace = spec.network_namespace;
  init_spec.run_as_user = spec.run_as_user;
  init_spec.run_as_group = spec.run_as_group;
  init_spec.log_path = spec.log_path;
  init_spec.log_max_bytes = spec.log_max_bytes;
  init_spec.run = runs + 1;
  int spec_fd = closer.Add(memfd_create("berth-init-spec", MFD_CLOEXEC));
  std::string serialized = SerializeInitSpec(init_spec);
  if (spec_fd < 0 || write(spec_fd, serialized.data(), serialized.size()) != static_cast<ssize_t>(serialized.size())) {
    return absl::InternalError(StrCat("memfd for the init spec: ", std::strerror(errno)));
  }
  const std::string record_path = RecordPath(spec.id);
  int record_fd = closer.Add(open(record_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (record_fd < 0) return absl::UnavailableError(StrCat("record file ", record_path, ": ", std::strerror(errno)));

  c.cgroup = spec.id;
  CgroupLimits limits{spec.cpu_limit_millis, spec.cpu_request_millis, spec.memory_limit_bytes, spec.pids_limit};
  auto dirs = options_.cgroups->Create(c.cgroup, limits);
  if (!dirs.ok()) return dirs.status();
  c.oom_kills_at_start = options_.cgroups->OomKills(c.cgroup);

  int gate[2], ready[2];
  if (pipe2(gate, O_CLOEXEC) != 0) return absl::InternalError(StrCat("pipe: ", std::strerror(errno)));
  closer.Add(gate[0]);
  int gate_write = closer.Add(gate[1]);
  if (pipe2(ready, O_CLOEXEC) != 0) return absl::InternalError(StrCat("pipe: ", std::strerror(errno)));
  int ready_read = closer.Add(ready[0]);
  closer.Add(ready[1]);
  // Sources above the targets (3..6), so the child's dup2s neither collide nor keep CLOEXEC.
  std::string init = options_.init_path;
  LaunchFds fds{closer.Add(fcntl(ready[1], F_DUPFD_CLOEXEC, 64)), closer.Add(fcntl(spec_fd, F_DUPFD_CLOEXEC, 64)),
                closer.Add(fcntl(record_fd, F_DUPFD_CLOEXEC, 64)), closer.Add(fcntl(gate[0], F_DUPFD_CLOEXEC, 64)),
                init.data()};
  if (fds.ready < 0 || fds.spec < 0 || fds.record < 0 || fds.gate < 0) {
    return absl::InternalError(StrCat("descriptors for the init: ", std::strerror(errno)));
  }

  // clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: no copy of the agent's page tables (a
  // fork of a multi-threaded agent paid for every mapping), and the agent resumes once the init
  // is exec'd. Every signal is blocked across it: no handler of the agent's may run in the child.
  constexpr size_t kStackSize = 64 * 1024;
  std::unique_ptr<char[]> stack(new char[kStackSize]);
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  int flags = CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
              (spec.network_namespace ? CLONE_NEWNET : 0) | SIGCHLD;
  pid_t pid = clone(ExecInit, stack.get() + kStackSize, flags, &fds);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  // Only the init may hold the write end now: the read below sees EOF if it dies.
  for (int fd : {ready[1], fds.ready, fds.spec, fds.record, fds.gate}) closer.CloseNow(fd);
  if (pid < 0) {
    (void)options_.cgroups->Remove(c.cgroup);
    return absl::InternalError(StrCat("clone: ", std::strerror(clone_errno)));
  }
  // The init waits at its gate until it is in the cgroup: nothing of the container runs outside.
  for (const std::string& procs : options_.cgroups->ProcsFiles(c.cgroup)) {
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    std::string text = StrCat(pid);
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    int err = errno;
    if (fd >= 0) close(fd);
    if (!ok) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      (void)options_.cgroups->Remove(c.cgroup);
      return absl::InternalError(StrCat("placing the container in ", procs, ": ", std::strerror(err)));
    }
  }
  char go = 1;
  if (write(gate_write, &go, 1) != 1) {
  }
  // Wait for the init to build the container: "R", or "E<why>", or EOF if it died.
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(ready_read, buf, sizeof buf)) > 0) report.append(buf, static_cast<size_t>(n));
  if (report.empty() || report[0] != 'R') {
    int init_status = 0;
    waitpid(pid, &init_status, 0);
    std::string why = report.size() > 1 ? report.substr(1) : "the container init exited during set-up";
    if (report.size() <= 1) {
      // Say what ended it: a limit too small to start a process in is the usual cause.
      if (!c.cgroup.empty() && options_.cgroups->OomKills(c.cgroup) > c.oom_kills_at_start) {
        why = StrCat("the container was killed by the kernel's OOM killer while it was being set up: its memory limit (",
                     spec.memory_limit_bytes.value_or(0), " bytes) is too small to start a process");
      } else if (WIFSIGNALED(init_status)) {
        why = StrCat("the container init was killed by signal ", WTERMSIG(init_status), " during set-up");
      } else if (WIFEXITED(init_status)) {
        why = StrCat("the container init exited with code ", WEXITSTATUS(init_status), " during set-up");
      }
    }
    (void)options_.cgroups->Remove(c.cgroup);
    return absl::FailedPreconditionError(StrCat("starting container ", spec.id, ": ", why));
  }

  std::string previous = c.status.log_path;
  c.status = ContainerStatus{};
  c.status.id = spec.id;
  c.status.pod_key = spec.pod_key;
  c.status.pod_uid = spec.pod_uid;
  c.status.container_name = spec.container_name;
  c.status.state = State::kRunning;
  c.status.pid = pid;
  c.status.started_at = options_.clock->Now();
  c.status.runs = runs + 1;
  c.status.log_path = spec.log_path;
  c.status.previous_log_path = previous;
  c.status.spec_hash = spec.spec_hash;
  c.start_ticks = StartTicks(pid);
  Watch(c);
  CheckpointLocked(c);
  return absl::OkStatus();
}

absl::Status LinuxRuntime::Stop(std::string_view id, absl::Duration grace) {
  std::unique_lock<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::OkStatus();
  if (it->second.status.state == State::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", id, " is running"));
  }
  if (!it->second.cgroup.empty()) {
    if (absl::Status s = options_.cgroups->Remove(it->second.cgroup); !s.ok()) return s;
  }
  if (unlink(RecordPath(id).c_str()) != 0 && errno != ENOENT) {
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

absl::StatusOr<int> LinuxRuntime::Exec(std::string_view id, const std::vector<std::string>& argv, absl::Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("exec: no command");
  int64_t target;
  std::vector<std::string> procs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second.status.state != State::kRunning) {
      return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
    }
    target = it->second.status.pid;
    procs = options_.cgroups->ProcsFiles(it->second.cgroup);
  }
  // Prepared before fork: the child only makes system calls.
  std::vector<std::string> ns_paths;
  for (const char* ns : {"ipc", "uts", "net", "pid", "mnt"}) ns_paths.push_back(StrCat("/proc/", target, "/ns/", ns));
  std::vector<std::string> candidates;
  if (argv[0].find('/') != std::string::npos) {
    candidates.push_back(argv[0]);
  } else {
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
      candidates.push_back(StrCat(dir, "/", argv[0]));
    }
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env, nullptr};

  pid_t child = fork();
  if (child < 0) return absl::InternalError(StrCat("fork: ", std::strerror(errno)));
  if (child == 0) {
    int fds[5];
    for (size_t i = 0; i < 5; ++i) fds[i] = open(ns_paths[i].c_str(), O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; i < 5; ++i) {
      if (fds[i] < 0 || setns(fds[i], 0) != 0) _exit(125);
    }
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
    }
    pid_t grandchild = fork();  // enters the container's PID namespace
    if (grandchild == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (const std::string& c : candidates) execve(c.c_str(), cargs.data(), envp);
      _exit(127);
    }
    int status = 0;
    if (grandchild < 0 || waitpid(grandchild, &status, 0) < 0) _exit(125);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  // Join the container's cgroup so the probe counts against its limits.
  for (const std::string& p : procs) {
    int fd = open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string text = StrCat(child);
      if (write(fd, text.data(), text.size()) < 0) {
      }
      close(fd);
    }
  }
  // Wait on a pidfd with the time left (no polling loop), on the runtime's clock.
  auto deadline = options_.clock->MonotonicNow() + absl::ToChronoMilliseconds(timeout);
  int pidfd = PidfdOpen(child);
  int status = 0;
  while (true) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0) {
      if (pidfd >= 0) close(pidfd);
      return absl::InternalError(StrCat("waitpid: ", std::strerror(errno)));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - options_.clock->MonotonicNow());
    if (left.count() <= 0) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      if (pidfd >= 0) close(pidfd);
      return absl::DeadlineExceededError(StrCat("exec ", argv[0], " timed out after ", absl::FormatDuration(timeout)));
    }
    // Readable once the child has exited; without a pidfd (old kernel), short naps.
    pollfd p{pidfd, POLLIN, 0};
    poll(&p, 1, static_cast<int>(pidfd >= 0 ? std::min<int64_t>(left.count(), 1000) : 2));
  }
  if (pidfd >= 0) close(pidfd);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 125) return absl::UnavailableError(StrCat("cannot enter the namespaces of container ", id));
  return code;
}

}  // namespace berth::agent::runtime
