// berth-container-init SPEC_JSON
//
// PID 1 of every container's PID namespace, exec'd by LinuxRuntime right after clone(2). It
// (1) builds the container's view: hostname, network, and the root file system with its mounts
// (root_file_system.h), entered with pivot_root; (2) starts the main process; (3) stays
// as PID 1: reaps every zombie, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the
// main process, and writes its stdout/stderr to the log file in the CRI format
// ("<RFC3339Nano> stdout F <line>"), rotating by size; (4) records how the main process ended in
// the record file the runtime passed (in place, one pwrite), says so on fd 3, then exits, which
// ends the namespace. Being the log pump and the exit recorder, it needs nothing from the agent, so it
// outlives an agent restart and the agent re-adopts it from its checkpoint.

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>

#include <time.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kubelet-like-agent/init/descriptor_passing.h"
#include "kubelet-like-agent/init/hardening.h"
#include "kubelet-like-agent/init/init_spec.h"
#include "kubelet-like-agent/init/log_writer.h"
#include "kubelet-like-agent/init/root_file_system.h"
#include "kubelet-like-agent/init/set_up_report.h"

extern char** environ;

namespace {

using berth::agent::InitSpec;
using berth::agent::init::Die;
using berth::agent::init::kReadyFd;

void LoopbackUp() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

// The whole of a memfd the runtime filled, and the descriptor closed.
std::string ReadWhole(int fd) {
  std::string text;
  char buf[65536];
  ssize_t n;
  off_t offset = 0;
  while ((n = pread(fd, buf, sizeof buf, offset)) > 0) {
    text.append(buf, static_cast<size_t>(n));
    offset += n;
  }
  close(fd);
  return text;
}

// The pod's network namespace (`netns`, consumed), or a new one when asked, and the hostname.
void EnterNetworkAndSetHostname(const InitSpec& spec, int netns) {
  if (netns >= 0) {
    if (setns(netns, CLONE_NEWNET) != 0) Die("join the pod network namespace " + spec.netns_path);
    close(netns);
  }
  if (spec.network_namespace && unshare(CLONE_NEWNET) != 0) Die("unshare the network namespace");
  const std::string& hostname = spec.hostname;
  if (!hostname.empty() && sethostname(hostname.c_str(), hostname.size()) != 0) Die("sethostname");
  if (spec.network_namespace) LoopbackUp();
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The workload's own set-up failed (identity, working directory, exec): the cause goes to the
// init over `error_fd` (close-on-exec, so a successful exec closes it unwritten) and ends up in
// the container's terminated state as reason StartError, as the kubelet reports it.
[[noreturn]] void FailStart(int error_fd, const std::string& what) {
  std::string message = what + ": " + std::strerror(errno);
  std::fprintf(stderr, "%s\n", message.c_str());
  ssize_t ignored = write(error_fd, message.data(), std::min<size_t>(message.size(), 256));
  (void)ignored;
  _exit(128);
}

// execvp with the container's PATH (from its environment, not the init's) and without
// touching `environ`, which the init shares with the workload until it execs. Returns on
// failure with errno set as execvp would.
void ExecSearchingPath(char* const argv[], char* const envp[], const std::vector<std::string>& env) {
  const std::string file = argv[0];
  if (file.empty()) {
    errno = ENOENT;
    return;
  }
  auto exec = [&](const std::string& path) {
    execve(path.c_str(), argv, envp);
    if (errno == ENOEXEC) {
      // A script without "#!": the shell runs it, as execvp does.
      std::vector<char*> sh = {const_cast<char*>("/bin/sh"), const_cast<char*>(path.c_str())};
      for (int i = 1; argv[i] != nullptr; ++i) sh.push_back(argv[i]);
      sh.push_back(nullptr);
      execve("/bin/sh", sh.data(), envp);
      errno = ENOEXEC;
    }
  };
  if (file.find('/') != std::string::npos) {
    exec(file);
    return;
  }
  std::string path = "/bin:/usr/bin";  // glibc's default when PATH is unset
  for (const std::string& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  bool denied = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    exec((dir.empty() ? std::string(".") : dir) + "/" + file);
    if (errno == EACCES) denied = true;
    else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT) return;
    start = end + 1;
  }
  errno = denied ? EACCES : ENOENT;
}

// `stdin_fd`: the attach FIFO, opened before pivot_root hid its path (-1: /dev/null).
[[noreturn]] void ExecMain(const InitSpec& spec, int stdin_fd, int out_fd, int err_fd, int error_fd) {
  int in_fd = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
  if (in_fd >= 0) dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> env = spec.env;
  if (argv.empty()) {
    errno = EINVAL;
    FailStart(error_fd, "no command to run");
  }
  if (!spec.privileged && !berth::agent::init::DropBoundingCapabilities(spec.capabilities)) {
    FailStart(error_fd, "drop capabilities from the bounding set");
  }
  // Loaded while still root with CAP_SYS_ADMIN (no_new_privs is not needed for it); the
  // calls below are all allowed by it.
  if (spec.seccomp_default && !spec.privileged && !berth::agent::init::LoadRuntimeDefaultSeccomp()) {
    FailStart(error_fd, "load the RuntimeDefault seccomp filter");
  }
  if (spec.run_as_group || spec.run_as_user || !spec.supplemental_groups.empty()) {
    std::vector<gid_t> groups(spec.supplemental_groups.begin(), spec.supplemental_groups.end());
    if (setgroups(groups.size(), groups.data()) != 0) FailStart(error_fd, "setgroups");
  }
  if (spec.run_as_group && setgid(*spec.run_as_group) != 0) FailStart(error_fd, "setgid " + std::to_string(*spec.run_as_group));
  if (spec.run_as_user && setuid(*spec.run_as_user) != 0) FailStart(error_fd, "setuid " + std::to_string(*spec.run_as_user));
  // A non-root user lost its capabilities at setuid; root keeps exactly the container's set.
  if (!spec.privileged && geteuid() == 0 && !berth::agent::init::SetCapabilities(spec.capabilities)) {
    FailStart(error_fd, "set capabilities");
  }
  if (spec.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) FailStart(error_fd, "set no_new_privs");
  const std::string& wd = spec.working_dir;
  if (!wd.empty() && chdir(wd.c_str()) != 0) FailStart(error_fd, "chdir to the working directory " + wd);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> args = CStrings(argv);
  std::vector<char*> envp = CStrings(env);
  ExecSearchingPath(args.data(), envp.data(), env);
  FailStart(error_fd, "exec: " + argv[0]);
}

struct MainArgs {
  const InitSpec* spec;
  int stdin_fd, out_fd, err_fd, error_fd;
  std::vector<int> close_fds;  // the init's own ends
};

// The workload's process, started with clone(CLONE_VM | CLONE_VFORK) as posix_spawn does: no
// copy of the init's page tables and none of the copy-on-write faults that follow a fork, in
// either process. It runs on its own stack while the init (single-threaded, every handled
// signal blocked) waits for its exec, so the memory they share is only ever used by one.
int StartMain(void* arg) {
  const MainArgs* a = static_cast<const MainArgs*>(arg);
  for (int fd : a->close_fds) close(fd);
  ExecMain(*a->spec, a->stdin_fd, a->out_fd, a->err_fd, a->error_fd);
}

// JSON string body for the exit record (the init is static and links no JSON library).
std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string Rfc3339Nano() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  return buf;
}

}  // namespace

// The init proper: fd 3 (the report) and kStartGateFd (the gate) are in place, every signal
// blocked. Entered after exec, or in a child of the zygote (no exec: see RunZygote).
int InitMain() {
  // The runtime cloned us with every signal blocked (nothing may run a handler in the shared
  // address space before exec); dispositions are back to default now, so let signals in.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Nothing runs before the runtime has put us in the container's cgroup and sent the spec (a
  // memfd) through the gate, and no workload before it sent the record file (init_spec.h):
  // end-of-file means it gave up (or, for a spare made ahead of need, that its agent is gone).
  // A spare may be asked to prepare its root file system first.
  berth::agent::init::PreparedRoot prepared;
  int spec_fd = -1, root_mount_fd = -1;
  {
    char what = 0;
    int passed[2] = {-1, -1};
    size_t count = 0;
    if (berth::agent::ReceiveWithDescriptors(berth::agent::kStartGateFd, &what, passed, 2, &count) != 1) _exit(125);
    if (what == berth::agent::kGatePrepare && count == 2) {
      InitSpec prep;
      if (!berth::agent::ParseInitSpec(ReadWhole(passed[0]), prep)) Die("malformed preparation");
      berth::agent::init::PrepareFileSystem(prep, passed[1], prepared);
      if (write(kReadyFd, "P", 1) != 1) _exit(125);
      passed[0] = passed[1] = -1;
      if (berth::agent::ReceiveWithDescriptors(berth::agent::kStartGateFd, &what, passed, 2, &count) != 1) _exit(125);
    }
    // The spec, and the root file system when it comes mounted (a spare root).
    if (what != berth::agent::kGateSpec || count < 1 || (prepared.ready && count != 1)) _exit(125);
    spec_fd = passed[0];
    root_mount_fd = passed[1];
  }
  InitSpec spec;
  if (!berth::agent::ParseInitSpec(ReadWhole(spec_fd), spec)) {
    std::fprintf(stderr, "berth-container-init: malformed spec\n");
    return 127;
  }
  signal(SIGPIPE, SIG_IGN);
  const std::string& log_path = spec.log_path;
  berth::agent::LogWriter log(log_path, spec.log_max_bytes);
  int stdin_fd = -1;
  if (prepared.ready) {
    berth::agent::init::HostHandles host;
    berth::agent::init::OpenHostPaths(spec, prepared, log, host);
    EnterNetworkAndSetHostname(spec, host.netns);
    stdin_fd = host.stdin_fd;
    berth::agent::init::FinishPreparedFileSystem(spec, host);
  } else {
    // Our own mount namespace is made now, not at the clone: a view of the host's mounts as
    // they are at this start (an init may have waited since before the pod's volumes were mounted).
    if (unshare(CLONE_NEWNS) != 0) Die("unshare the mount namespace");
    // The pod's network namespace, joined while the host's paths are still visible.
    int netns = -1;
    if (!spec.netns_path.empty()) {
      netns = open(spec.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (netns < 0) Die("join the pod network namespace " + spec.netns_path);
    }
    EnterNetworkAndSetHostname(spec, netns);
    // Read-write: the init's own end keeps the FIFO open, so the workload waits for input
    // between attach sessions instead of reading end-of-file when one detaches.
    stdin_fd = spec.stdin_path.empty() ? -1 : open(spec.stdin_path.c_str(), O_RDWR | O_CLOEXEC);
    if (!spec.stdin_path.empty() && stdin_fd < 0) Die("open the stdin FIFO " + spec.stdin_path);
    berth::agent::init::SetUpFileSystem(spec, root_mount_fd);
    // Opened last before the host's paths go: the runtime creates the file meanwhile (on this
    // machine's ext4 a new inode costs 0.2-0.3 ms), so this is mostly a lookup.
    if (!log.Open()) Die("open " + log_path);
    berth::agent::init::EnterRootFileSystem(spec);
  }

  int out_pipe[2], err_pipe[2], start_error_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(start_error_pipe, O_CLOEXEC) != 0) {
    Die("pipe");
  }
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&handled, s);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  int sig_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd < 0) Die("signalfd");

  MainArgs main_args{&spec, stdin_fd, out_pipe[1], err_pipe[1], start_error_pipe[1],
                     {kReadyFd, out_pipe[0], err_pipe[0], start_error_pipe[0]}};
  // Untouched until used: ExecMain's strings, and libseccomp building the filter.
  constexpr size_t kMainStack = 1 << 20;
  void* main_stack = mmap(nullptr, kMainStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (main_stack == MAP_FAILED) Die("stack for the main process");
  // The runtime's side of the start is done when the record file comes: only then may the
  // workload run. The file stays reachable through this descriptor whatever pivot_root did to
  // paths; the exit record is written in place at the end with one pwrite.
  int exit_fd = -1;
  {
    char what = 0;
    size_t count = 0;
    if (berth::agent::ReceiveWithDescriptors(berth::agent::kStartGateFd, &what, &exit_fd, 1, &count) != 1 ||
        what != berth::agent::kGateRecord || count != 1) {
      _exit(125);
    }
    close(berth::agent::kStartGateFd);
  }
  // A prepared root opened only the log's directory (OpenHostPaths): the runtime made the file by now.
  if (prepared.ready && !log.Open()) Die("open " + log_path);
  pid_t main_pid = clone(StartMain, static_cast<char*>(main_stack) + kMainStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &main_args);
  if (main_pid < 0) Die("clone the main process");
  munmap(main_stack, kMainStack);  // it has exec'd or exited: the stack is ours again
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(start_error_pipe[1]);
  // fd 3 stays open (the workload does not inherit it): its next byte says the exit is recorded.
  if (write(kReadyFd, "R", 1) != 1) {
  }
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  int main_status = 0;
  bool main_done = false;
  bool out_open = true, err_open = true, start_error_open = true;
  std::string start_error;
  char buf[65536];
  auto drain = [&](int fd, const char* stream, bool& open_flag) {
    while (open_flag) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        log.Write(stream, std::string_view(buf, static_cast<size_t>(n)), Rfc3339Nano());
        continue;
      }
      if (n == 0) {
        log.Flush(stream, Rfc3339Nano());
        open_flag = false;
      }
      return;  // EAGAIN: nothing more for now
    }
  };
  while (!main_done || out_open || err_open) {
    struct pollfd fds[4] = {{sig_fd, POLLIN, 0}, {out_open ? out_pipe[0] : -1, POLLIN, 0},
                            {err_open ? err_pipe[0] : -1, POLLIN, 0}, {start_error_open ? start_error_pipe[0] : -1, POLLIN, 0}};
    // Once the main process is gone, descendants that kept the pipes open do not hold us.
    int timeout = main_done ? 0 : -1;
    int ready = poll(fds, 4, timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (fds[3].revents) {
      // Written only when the workload's set-up or exec failed; EOF once it exec'd.
      char reason[300];
      ssize_t n = read(start_error_pipe[0], reason, sizeof reason);
      if (n > 0) start_error.append(reason, static_cast<size_t>(n));
      if (n <= 0) {
        start_error_open = false;
        close(start_error_pipe[0]);
      }
    }
    if (fds[1].revents) drain(out_pipe[0], "stdout", out_open);
    if (fds[2].revents) drain(err_pipe[0], "stderr", err_open);
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD && !main_done) kill(main_pid, static_cast<int>(si.ssi_signo));
      }
      int status;
      pid_t reaped;
      while ((reaped = waitpid(-1, &status, WNOHANG)) > 0) {
        if (reaped == main_pid) {
          main_status = status;
          main_done = true;
        }
      }
    }
    if (main_done && ready == 0) break;
  }
  log.Flush("stdout", Rfc3339Nano());
  log.Flush("stderr", Rfc3339Nano());
  // The container ends with its main process, as a PID namespace does when its first process
  // exits: nothing it left behind outlives the exit recorded below (which the agent reports
  // before our own exit has unmounted the root).
  kill(-1, SIGKILL);
  while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }

  int code = WIFEXITED(main_status) ? WEXITSTATUS(main_status) : 128 + WTERMSIG(main_status);
  int sig = WIFSIGNALED(main_status) ? WTERMSIG(main_status) : 0;
  if (start_error_open) {
    // The main process may have failed so fast that poll never saw the pipe: read what is left.
    char reason[300];
    ssize_t n = read(start_error_pipe[0], reason, sizeof reason);
    if (n > 0) start_error.append(reason, static_cast<size_t>(n));
  }
  char body_buf[200];
  int body_len = std::snprintf(body_buf, sizeof body_buf, "{\"exitCode\":%d,\"signal\":%d,\"run\":%lld,\"finishedAt\":\"%s\"",
                               code, sig, static_cast<long long>(spec.run), Rfc3339Nano().c_str());
  std::string body(body_buf, static_cast<size_t>(std::max(0, body_len)));
  if (!start_error.empty()) body += ",\"reason\":\"StartError\",\"message\":\"" + JsonEscape(start_error.substr(0, 256)) + "\"";
  body += "}";
  // A shorter record never leaves an older tail: the region is always written whole.
  body.append(berth::agent::kExitRecordSize - std::min<size_t>(body.size(), berth::agent::kExitRecordSize), ' ');
  // No fsync: an agent crash, not a reboot, is what this record must outlive (a reboot ends the
  // containers too, and they are restarted per policy).
  ssize_t ignored = pwrite(exit_fd, body.data(), body.size(), berth::agent::kExitRecordOffset);
  (void)ignored;
  close(exit_fd);
  // Recorded: the agent may report the exit now.
  if (write(kReadyFd, "X", 1) != 1) {
  }
  // Our exit ends the PID namespace: the kernel kills whatever the main process left behind.
  return code;
}

namespace {

// `berth-container-init zygote`: made once by the runtime, with a request socket (SOCK_SEQPACKET)
// at fd 3. Each request carries two descriptors (the report's write end and the init's end of
// the gate), and a third on cgroup v2: the container's cgroup directory, which the child is
// born in (CLONE_INTO_CGROUP: no migration afterwards). The zygote clones a child into new PID,
// UTS and IPC namespaces, as the child of the runtime (CLONE_PARENT: the runtime waits for and
// reaps it like an init it cloned), and the child becomes the init without an exec. That exec
// was most of an init's cost on a VM: the static glibc's start-up asks the CPU for its caches
// with ~80 `cpuid` instructions, each a trap to the hypervisor (7 us apiece here). The answer
// is the child's pid, or -errno.
// End-of-file on the socket (the runtime closed it, or died) ends the zygote.
int RunZygote(char* mode_arg) {
  constexpr int kRequestFd = 3;
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);  // as an init starts: the child unblocks its own
  while (true) {
    char byte = 0;
    int passed[3] = {-1, -1, -1};
    size_t count = 0;
    if (berth::agent::ReceiveWithDescriptors(kRequestFd, &byte, passed, 3, &count) <= 0) return 0;
    int64_t answer = -EINVAL;
    if (count == 2 || count == 3) {
      // A raw clone3 (glibc's fork() cannot take these flags): the child's copy of glibc still
      // holds the zygote's thread id. Nothing the init does relies on it: since glibc 2.34 a
      // signal to oneself (abort, raise) asks the kernel for the tid, and the only locks are
      // normal mutexes, which record their owner but never check it.
      struct clone_args args {};
      args.flags = CLONE_PARENT | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
      if (count == 3) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(passed[2]);
      }
      long pid = syscall(SYS_clone3, &args, sizeof args);
      if (pid == 0) {
        // The init-to-be: the report at fd 3 (replacing the request socket) and the gate at
        // kStartGateFd, nothing else of the zygote's beyond stdio.
        if (dup2(passed[0], kReadyFd) < 0 || dup2(passed[1], berth::agent::kStartGateFd) < 0) _exit(126);
        for (int fd : passed) {
          if (fd >= 0 && fd != kReadyFd && fd != berth::agent::kStartGateFd) close(fd);
        }
        fcntl(kReadyFd, F_SETFD, FD_CLOEXEC);
        fcntl(berth::agent::kStartGateFd, F_SETFD, FD_CLOEXEC);
        syscall(SYS_close_range, 4, berth::agent::kStartGateFd - 1, 0);
        syscall(SYS_close_range, berth::agent::kStartGateFd + 1, ~0U, 0);
        setsid();
        // What `ps` shows of an init: its program, not "zygote" (no exec gave it argv of its own).
        std::memset(mode_arg, 0, std::strlen(mode_arg));
        _exit(InitMain());
      }
      answer = pid > 0 ? pid : -errno;
    }
    for (int fd : passed) {
      if (fd >= 0) close(fd);
    }
    if (send(kRequestFd, &answer, sizeof answer, MSG_NOSIGNAL) != sizeof answer) return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "zygote") == 0) return RunZygote(argv[1]);
  if (argc != 1) {
    std::fprintf(stderr, "berth-container-init takes no arguments: berth-agent passes the spec through fd %d\n",
                 berth::agent::kStartGateFd);
    return 2;
  }
  return InitMain();
}
