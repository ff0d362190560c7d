#include "kubelet-like-agent/init/hardening.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <seccomp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

namespace berth::agent::init {
namespace {

bool Exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}

}  // namespace

bool SetUpMinimalDev(const std::string& root, std::string* failed_step) {
  const std::string dev = root + "/dev";
  mkdir(dev.c_str(), 0755);
  auto fail = [&](const char* step) {
    *failed_step = step;
    return false;
  };
  if (mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") != 0) return fail("mount /dev");
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  static constexpr Node kNodes[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
                                    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  mode_t old = umask(0);
  for (const Node& n : kNodes) {
    if (mknod((dev + "/" + n.name).c_str(), S_IFCHR | 0666, makedev(n.major, n.minor)) != 0) {
      umask(old);
      return fail("create the /dev device nodes");
    }
  }
  umask(old);
  mkdir((dev + "/pts").c_str(), 0755);
  if (mount("devpts", (dev + "/pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0) {
    return fail("mount /dev/pts");
  }
  if (symlink("pts/ptmx", (dev + "/ptmx").c_str()) != 0) return fail("link /dev/ptmx");
  mkdir((dev + "/shm").c_str(), 01777);
  if (mount("shm", (dev + "/shm").c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k") != 0) {
    return fail("mount /dev/shm");
  }
  mkdir((dev + "/mqueue").c_str(), 0755);
  if (mount("mqueue", (dev + "/mqueue").c_str(), "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr) != 0) {
    return fail("mount /dev/mqueue");
  }
  static constexpr const char* kLinks[][2] = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
      {"/proc/kcore", "core"}};
  for (const auto& link : kLinks) {
    if (symlink(link[0], (dev + "/" + link[1]).c_str()) != 0) return fail("create the /dev links");
  }
  return true;
}

void MaskKernelPaths(const std::string& root, const std::string& only_under) {
  static constexpr const char* kMasked[] = {
      "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
      "/sys/devices/virtual/powercap"};
  auto wanted = [&](const char* p) { return std::string(p).rfind(only_under, 0) == 0; };
  for (const char* p : kMasked) {
    if (!wanted(p)) continue;
    std::string path = root + p;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
    } else {
      mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr);
    }
  }
  static constexpr const char* kReadOnly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  for (const char* p : kReadOnly) {
    if (!wanted(p)) continue;
    std::string path = root + p;
    if (!Exists(path)) continue;
    if (mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0) {
      mount(nullptr, path.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            nullptr);
    }
  }
}

bool MakeReadOnlyRecursive(const std::string& path) {
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  return syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), AT_RECURSIVE, &attr, sizeof attr) == 0;
}

bool DropBoundingCapabilities(const std::vector<int>& keep) {
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (std::find(keep.begin(), keep.end(), cap) != keep.end()) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return false;
  }
  return true;
}

bool SetCapabilities(const std::vector<int>& keep) {
  struct __user_cap_header_struct header {};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  struct __user_cap_data_struct data[2] {};
  for (int cap : keep) {
    if (cap < 0 || cap > CAP_LAST_CAP) continue;
    data[cap / 32].effective |= 1u << (cap % 32);
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].inheritable |= 1u << (cap % 32);
  }
  return syscall(SYS_capset, &header, data) == 0;
}

namespace {

// The RuntimeDefault filter in libseccomp's context (the caller releases it).
scmp_filter_ctx BuildRuntimeDefault() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return nullptr;
  static constexpr const char* kDenied[] = {
      "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module", "finit_module",
      "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load",
      "keyctl", "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at",
      "nfsservctl", "open_by_handle_at", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "perf_event_open",
      "pivot_root", "process_vm_readv", "process_vm_writev", "query_module", "quotactl", "reboot",
      "request_key", "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs", "_sysctl",
      "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old", "syslog",
      "fanotify_init", "lsm_set_self_attr", "adjtimex"};
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0) {
      seccomp_release(ctx);
      return nullptr;
    }
  }
  int clone3 = seccomp_syscall_resolve_name("clone3");
  if (clone3 != __NR_SCMP_ERROR) seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
  return ctx;
}

}  // namespace

bool LoadRuntimeDefaultSeccomp() {
  scmp_filter_ctx ctx = BuildRuntimeDefault();
  if (ctx == nullptr) return false;
  int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    errno = -rc;
    return false;
  }
  return true;
}

bool RuntimeDefaultSeccompProgram(std::vector<unsigned char>* program) {
  scmp_filter_ctx ctx = BuildRuntimeDefault();
  if (ctx == nullptr) return false;
  int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
  bool ok = fd >= 0 && seccomp_export_bpf(ctx, fd) == 0;
  seccomp_release(ctx);
  if (ok) {
    off_t size = lseek(fd, 0, SEEK_END);
    program->resize(static_cast<size_t>(size));
    ok = size > 0 && pread(fd, program->data(), program->size(), 0) == size;
  }
  if (fd >= 0) close(fd);
  return ok;
}

bool LoadSeccompProgram(const std::vector<unsigned char>& program) {
  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(program.size() / sizeof(struct sock_filter));
  prog.filter = reinterpret_cast<struct sock_filter*>(const_cast<unsigned char*>(program.data()));
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

std::vector<int> CapabilitiesOfMask(uint64_t mask) {
  std::vector<int> out;
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (mask >> cap & 1) out.push_back(cap);
  }
  return out;
}

}  // namespace berth::agent::init
