#include "kubelet-like-agent/runtime/linux/exec_in_container.h"

#include <fcntl.h>
#include <stdlib.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/strings/strings.h"
#include "kubelet-like-agent/init/hardening.h"

namespace berth::agent::runtime {
namespace {

int PidfdOpen(int64_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)); }

std::string ReadSmallFile(const std::string& path);
// The container's main process: the init's child (the init's own PID if it has none yet).
int64_t MainProcess(int64_t init_pid);

// Who the main process runs as, and how it is confined: an exec'd command gets the same.
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  uint64_t bounding = ~0ULL, effective = ~0ULL;
  bool no_new_privs = false;
  bool seccomp = false;
  // Prepared before fork (they allocate): the child may only make system calls.
  std::vector<int> bounding_caps, effective_caps;
  std::vector<unsigned char> seccomp_program;
};
Identity ReadIdentity(int64_t pid) {
  Identity id;
  std::string status = ReadSmallFile(StrCat("/proc/", pid, "/status"));
  for (std::string_view line : Split(status, '\n')) {
    auto numbers = [](std::string_view rest) {
      std::vector<uint32_t> out;
      uint32_t v = 0;
      bool in = false;
      for (char c : rest) {
        if (c >= '0' && c <= '9') {
          v = v * 10 + static_cast<uint32_t>(c - '0');
          in = true;
        } else if (in) {
          out.push_back(v);
          v = 0;
          in = false;
        }
      }
      if (in) out.push_back(v);
      return out;
    };
    if (line.rfind("Uid:", 0) == 0) {
      auto n = numbers(line.substr(4));
      if (!n.empty()) id.uid = n[0];
    } else if (line.rfind("Gid:", 0) == 0) {
      auto n = numbers(line.substr(4));
      if (!n.empty()) id.gid = n[0];
    } else if (line.rfind("Groups:", 0) == 0) {
      for (uint32_t g : numbers(line.substr(7))) id.groups.push_back(g);
    } else if (line.rfind("CapBnd:", 0) == 0) {
      id.bounding = std::strtoull(std::string(line.substr(7)).c_str(), nullptr, 16);
    } else if (line.rfind("CapEff:", 0) == 0) {
      id.effective = std::strtoull(std::string(line.substr(7)).c_str(), nullptr, 16);
    } else if (line.rfind("NoNewPrivs:", 0) == 0) {
      id.no_new_privs = line.find('1') != std::string_view::npos;
    } else if (line.rfind("Seccomp:", 0) == 0) {
      id.seccomp = line.find('2') != std::string_view::npos;
    }
  }
  id.bounding_caps = init::CapabilitiesOfMask(id.bounding);
  // Within the bounding set: a main process read halfway through its own set-up may still
  // show the init's full effective set, which capset would refuse after the bounding drop.
  id.effective_caps = init::CapabilitiesOfMask(id.effective & id.bounding);
  if (id.seccomp && !init::RuntimeDefaultSeccompProgram(&id.seccomp_program)) id.seccomp_program.clear();
  return id;
}

// In the child, after entering the namespaces: becomes what the main process is. Returns the
// failed step, or nullptr. System calls only.
const char* BecomeLikeMain(const Identity& identity) {
  if (!init::DropBoundingCapabilities(identity.bounding_caps)) return "dropping capabilities";
  if (identity.seccomp && (identity.seccomp_program.empty() || !init::LoadSeccompProgram(identity.seccomp_program))) {
    return "seccomp";
  }
  if (setgroups(identity.groups.size(), identity.groups.data()) != 0 && identity.uid == 0) return "setgroups";
  if (setgid(identity.gid) != 0) return "setgid";
  if (setuid(identity.uid) != 0) return "setuid";
  if (identity.uid == 0 && !init::SetCapabilities(identity.effective_caps)) return "setting capabilities";
  if (identity.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "no_new_privs";
  return nullptr;
}


}  // namespace

absl::StatusOr<int> ExecInContainer(int64_t init_pid, const std::vector<std::string>& procs,
                                    const std::vector<std::string>& argv, absl::Duration timeout, const Clock& clock) {
  if (argv.empty()) return absl::InvalidArgumentError("exec: no command");
  const int64_t target = init_pid;
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
  // Probes and hooks run as the main process does: its user, capabilities and filter.
  const Identity identity = ReadIdentity(MainProcess(init_pid));

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
      if (BecomeLikeMain(identity) != nullptr) _exit(126);
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
  auto deadline = clock.MonotonicNow() + absl::ToChronoMilliseconds(timeout);
  int pidfd = PidfdOpen(child);
  int status = 0;
  while (true) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0) {
      if (pidfd >= 0) close(pidfd);
      return absl::InternalError(StrCat("waitpid: ", std::strerror(errno)));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.MonotonicNow());
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
  if (code == 125) return absl::UnavailableError("cannot enter the container's namespaces");
  return code;
}

}  // namespace berth::agent::runtime

namespace berth::agent::runtime {
namespace {

std::string ReadSmallFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// The container's main process: the init's first child (the init itself if it has none).
int64_t MainProcess(int64_t init_pid) {
  std::string children = ReadSmallFile(StrCat("/proc/", init_pid, "/task/", init_pid, "/children"));
  int64_t pid = 0;
  for (char c : children) {
    if (c < '0' || c > '9') break;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 ? pid : init_pid;
}

// "Uid:\t1000\t1000\t..." -> the real id; "Groups:\t1 2 3" -> the list.
void CloseAll(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
}

}  // namespace

absl::StatusOr<ExecProcess> StartInContainer(int64_t init_pid, const std::vector<std::string>& procs,
                                             const ExecRequest& request) {
  if (request.argv.empty()) return absl::InvalidArgumentError("exec: no command");
  const int64_t main_pid = MainProcess(init_pid);
  // Everything the children need is prepared here: after fork they only make system calls.
  std::string environ_text = ReadSmallFile(StrCat("/proc/", main_pid, "/environ"));
  std::vector<std::string> env;
  for (std::string_view e : Split(environ_text, '\0')) {
    if (!e.empty()) env.emplace_back(e);
  }
  std::string path_value = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  bool has_path = false, has_term = false;
  for (const std::string& e : env) {
    if (e.rfind("PATH=", 0) == 0) {
      path_value = e.substr(5);
      has_path = true;
    }
    if (e.rfind("TERM=", 0) == 0) has_term = true;
  }
  if (!has_path) env.push_back("PATH=" + path_value);
  if (request.tty && !has_term) env.push_back("TERM=xterm");
  std::vector<std::string> candidates;
  if (request.argv[0].find('/') != std::string::npos) {
    candidates.push_back(request.argv[0]);
  } else {
    for (std::string_view dir : Split(path_value, ':')) {
      if (!dir.empty()) candidates.push_back(StrCat(dir, "/", request.argv[0]));
    }
  }
  std::vector<std::string> args = request.argv;
  std::vector<char*> cargs, cenv;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  for (std::string& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  const Identity identity = ReadIdentity(main_pid);
  if (identity.seccomp && identity.seccomp_program.empty()) {
    return absl::InternalError("exec: building the container's seccomp filter failed");
  }

  int ns_fds[5];
  int opened = 0;
  for (const char* ns : {"ipc", "uts", "net", "pid", "mnt"}) {
    ns_fds[opened] = open(StrCat("/proc/", init_pid, "/ns/", ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fds[opened] < 0) {
      for (int i = 0; i < opened; ++i) close(ns_fds[i]);
      return absl::FailedPreconditionError("the container's namespaces are gone (it is not running)");
    }
    ++opened;
  }
  int root_fd = open(StrCat("/proc/", main_pid, "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  int cwd_fd = open(StrCat("/proc/", main_pid, "/cwd").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

  // The command's ends (child side) and ours.
  int in_child = -1, out_child = -1, err_child = -1;
  ExecProcess process;
  bool ok = true;
  if (request.tty) {
    // The terminal comes from the container's own devpts (its /dev/ptmx), so the command sees
    // it under /dev/pts as `tty` expects; the host's serves containers that use the host /dev.
    int master = open(StrCat("/proc/", main_pid, "/root/dev/ptmx").c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    int slave = -1;
    if (master >= 0) {
      ok = unlockpt(master) == 0;
      slave = ok ? ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    } else {
      master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
      ok = master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0;
      char name[128];
      if (ok) ok = ptsname_r(master, name, sizeof name) == 0;
      slave = ok ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    }
    ok = ok && slave >= 0;
    process.stdout_fd = master;
    process.stdin_fd = request.stdin ? dup(master) : -1;
    if (process.stdin_fd >= 0) fcntl(process.stdin_fd, F_SETFD, FD_CLOEXEC);
    in_child = request.stdin ? slave : null_fd;
    out_child = err_child = slave;
  } else {
    int p[2];
    if (request.stdin) {
      ok = ok && pipe2(p, O_CLOEXEC) == 0;
      if (ok) {
        in_child = p[0];
        process.stdin_fd = p[1];
      }
    } else {
      in_child = null_fd;
    }
    ok = ok && pipe2(p, O_CLOEXEC) == 0;
    if (ok) {
      process.stdout_fd = p[0];
      out_child = p[1];
    }
    ok = ok && pipe2(p, O_CLOEXEC) == 0;
    if (ok) {
      process.stderr_fd = p[0];
      err_child = p[1];
    }
  }
  int gate[2] = {-1, -1}, report[2] = {-1, -1}, leader[2] = {-1, -1};
  ok = ok && pipe2(gate, O_CLOEXEC) == 0 && pipe2(report, O_CLOEXEC) == 0 && pipe2(leader, O_CLOEXEC) == 0;
  auto cleanup_child_side = [&] {
    CloseAll({ns_fds[0], ns_fds[1], ns_fds[2], ns_fds[3], ns_fds[4], root_fd, cwd_fd, gate[0], report[1], leader[1]});
    if (in_child != null_fd) CloseAll({in_child});
    if (out_child != err_child) CloseAll({out_child});
    CloseAll({err_child, null_fd});
  };
  if (!ok) {
    cleanup_child_side();
    CloseAll({gate[1], report[0], leader[0], process.stdin_fd, process.stdout_fd, process.stderr_fd});
    return absl::InternalError(StrCat("exec: setting up the command's descriptors: ", std::strerror(errno)));
  }

  pid_t child = fork();
  if (child < 0) {
    cleanup_child_side();
    CloseAll({gate[1], report[0], leader[0], process.stdin_fd, process.stdout_fd, process.stderr_fd});
    return absl::InternalError(StrCat("fork: ", std::strerror(errno)));
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // This process never execs, so close-on-exec does not apply: without this it would hold
    // our end of the command's stdin (no end of file for the command) and the descriptors of
    // every other session the agent had open.
    int keep[] = {gate[0], report[1], leader[1], in_child, out_child, err_child, null_fd, root_fd, cwd_fd,
                  ns_fds[0], ns_fds[1], ns_fds[2], ns_fds[3], ns_fds[4]};
    constexpr int kKeep = sizeof keep / sizeof keep[0];
    for (int i = 1; i < kKeep; ++i) {
      for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
    }
    unsigned int next = 3;
    for (int fd : keep) {
      if (fd < 0 || static_cast<unsigned int>(fd) < next) continue;
      if (static_cast<unsigned int>(fd) > next) close_range(next, static_cast<unsigned int>(fd) - 1, 0);
      next = static_cast<unsigned int>(fd) + 1;
    }
    close_range(next, ~0U, 0);
    char go;
    if (read(gate[0], &go, 1) != 1) _exit(125);
    for (int fd : ns_fds) {
      if (setns(fd, 0) != 0) _exit(125);
    }
    pid_t grandchild = fork();  // the first process inside the container's PID namespace
    if (grandchild == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      setsid();
      if (request.tty) ioctl(out_child, TIOCSCTTY, 0);
      dup2(in_child, 0);
      dup2(out_child, 1);
      dup2(err_child, 2);
      auto fail = [&](const char* what) {
        int e = errno;
        const char* reason = std::strerror(e);
        ssize_t ignored = write(report[1], what, std::strlen(what));
        ignored = write(report[1], ": ", 2);
        ignored = write(report[1], reason, std::strlen(reason));
        (void)ignored;
        _exit(e == ENOENT ? 127 : 126);
      };
      if (root_fd >= 0 && (fchdir(root_fd) != 0 || chroot(".") != 0)) fail("entering the container's root");
      if (cwd_fd < 0 || fchdir(cwd_fd) != 0) {
        if (chdir("/") != 0) fail("chdir");
      }
      if (const char* step = BecomeLikeMain(identity)) fail(step);
      int last_errno = ENOENT;
      for (const std::string& c : candidates) {
        execve(c.c_str(), cargs.data(), cenv.data());
        if (errno != ENOENT) last_errno = errno;
      }
      errno = last_errno;
      fail(args[0].c_str());
    }
    if (grandchild < 0) _exit(125);
    int64_t g = grandchild;
    ssize_t ignored = write(leader[1], &g, sizeof g);
    (void)ignored;
    // Only the grandchild keeps the command's descriptors: our copies would hold a PTY or a
    // pipe open after the command ended.
    close(in_child);
    close(out_child);
    close(err_child);
    close(report[1]);
    int status = 0;
    while (waitpid(grandchild, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  // Into the container's cgroups before the command exists, so everything it starts counts there.
  for (const std::string& p : procs) {
    int fd = open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string text = StrCat(child);
      ssize_t ignored = write(fd, text.data(), text.size());
      (void)ignored;
      close(fd);
    }
  }
  cleanup_child_side();
  ssize_t ignored = write(gate[1], "g", 1);
  (void)ignored;
  close(gate[1]);
  int64_t group = 0;
  if (read(leader[0], &group, sizeof group) != sizeof group) group = 0;
  close(leader[0]);
  // The report pipe closes on a successful exec (close-on-exec) or carries the reason it failed.
  std::string failure;
  char buf[512];
  ssize_t n;
  while ((n = read(report[0], buf, sizeof buf)) > 0) failure.append(buf, static_cast<size_t>(n));
  close(report[0]);
  process.pid = child;
  process.process_group = group;
  if (!failure.empty() || group == 0) {
    int status = 0;
    waitpid(child, &status, 0);
    CloseAll({process.stdin_fd, process.stdout_fd, process.stderr_fd});
    if (group == 0) return absl::UnavailableError("cannot enter the container's namespaces");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      return absl::NotFoundError(StrCat("exec: \"", request.argv[0], "\": executable file not found in $PATH"));
    }
    return absl::InternalError(StrCat("exec: ", failure));
  }
  return process;
}

}  // namespace berth::agent::runtime
