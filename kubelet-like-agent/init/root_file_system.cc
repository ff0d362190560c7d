#include "kubelet-like-agent/init/root_file_system.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "kubelet-like-agent/init/hardening.h"
#include "kubelet-like-agent/init/set_up_report.h"

namespace berth::agent::init {
namespace {

void MkdirAll(const std::string& path) {
  // Mostly the directory or its parent exists: one call, not one per component from "/".
  if (mkdir(path.c_str(), 0755) == 0 || errno != ENOENT) return;
  std::string partial;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      mkdir(partial.c_str(), 0755);
    }
  }
}

// `path` (absolute, in the container) resolved under `root` as the container will see it:
// symlinks are followed inside `root` ("/var/run" -> "/run" means root/run, never the host's
// /run), ".." stops at `root`. What does not exist yet is appended as written.
std::string ResolveInRoot(const std::string& root, const std::string& path) {
  if (root.empty()) return path;
  const std::string base = root == "/" ? "" : root;  // "/": our own root, after pivot_root
  std::vector<std::string> pending;
  for (size_t i = path.size(); i > 0;) {
    size_t slash = path.rfind('/', i - 1);
    size_t start = slash == std::string::npos ? 0 : slash + 1;
    if (i > start) pending.push_back(path.substr(start, i - start));
    if (slash == std::string::npos || slash == 0) break;
    i = slash;
  }
  std::vector<std::string> resolved;  // components under root
  int links = 0;
  while (!pending.empty()) {
    std::string part = pending.back();
    pending.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    std::string current = base;
    for (const std::string& r : resolved) current += "/" + r;
    current += "/" + part;
    char target[4096];
    ssize_t n = readlink(current.c_str(), target, sizeof target - 1);
    if (n <= 0 || ++links > 40) {
      resolved.push_back(part);
      continue;
    }
    target[n] = 0;
    std::string link(target);
    if (!link.empty() && link[0] == '/') resolved.clear();
    // The link's components replace this one, in order.
    std::vector<std::string> parts;
    size_t pos = 0;
    while (pos <= link.size()) {
      size_t next = link.find('/', pos);
      if (next == std::string::npos) next = link.size();
      if (next > pos) parts.push_back(link.substr(pos, next - pos));
      pos = next + 1;
    }
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending.push_back(*it);
  }
  std::string out = base;
  for (const std::string& r : resolved) out += "/" + r;
  return out.empty() ? "/" : out;
}

// A mount target of the given type (a file over a file, a dir over a dir), made if missing.
void EnsureTargetOfType(bool directory, const std::string& target) {
  if (directory) {
    MkdirAll(target);
    return;
  }
  MkdirAll(target.substr(0, target.rfind('/')));
  int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
}

// A bind target must exist and be of the source's type.
void EnsureTarget(const std::string& source, const std::string& target) {
  struct stat st;
  EnsureTargetOfType(!(stat(source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)), target);
}

// `target` is where the mount goes now; `shown` the container's path, for messages.
void BindMount(const std::string& source, const std::string& target, bool read_only, const std::string& shown) {
  struct stat st;
  if (stat(source.c_str(), &st) != 0) Die("bind mount " + shown + " from " + source);
  EnsureTarget(source, target);
  if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) Die("bind mount " + shown);
  if (read_only &&
      mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, nullptr) != 0) {
    Die("read-only remount " + shown);
  }
}

// `root_mount_fd`: the image's overlay already built and mounted nowhere (-1: mount it here).
// The root file system at `spec.rootfs` with its /dev and /tmp, in our own mount namespace.
void AttachRoot(const InitSpec& spec, int root_mount_fd) {
  // Nothing we mount may leak back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) Die("make mounts private");
  const std::string& rootfs = spec.rootfs;
  if (!spec.overlay_lower.empty() && root_mount_fd >= 0) {
    if (move_mount(root_mount_fd, "", AT_FDCWD, rootfs.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      Die("attach the image's overlay root file system");
    }
    close(root_mount_fd);
  } else if (!spec.overlay_lower.empty()) {
    std::string options = "lowerdir=" + spec.overlay_lower + ",upperdir=" + spec.overlay_upper + ",workdir=" + spec.overlay_work;
    if (mount("overlay", rootfs.c_str(), "overlay", 0, options.c_str()) != 0) Die("mount the image's overlay root file system");
  }
  if (spec.host_root) {
    // image: host, hardened: the host's file system read-only, private writable /tmp and /run.
    if (mount("/", rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) Die("bind the host's root");
    if (!MakeReadOnlyRecursive(rootfs)) Die("make the host's root read-only");
    if (mount("tmpfs", (rootfs + "/tmp").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) Die("mount /tmp");
    if (mount("tmpfs", (rootfs + "/run").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") != 0) Die("mount /run");
  }
  if (!rootfs.empty()) {
    if (!spec.host_root && mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) Die("bind rootfs");
    if (spec.privileged) {
      MkdirAll(rootfs + "/dev");
      if (mount("/dev", (rootfs + "/dev").c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) Die("bind /dev");
    } else {
      std::string step;
      if (!SetUpMinimalDev(rootfs, &step)) Die(step);
    }
    MkdirAll(rootfs + "/tmp");
  }
}

void MountProc(const std::string& prefix) {
  MkdirAll(prefix + "/proc");
  if (mount("proc", (prefix + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Die("mount /proc");
  }
}

// A sysfs of the container's network namespace at `prefix`/sys. One that may not be mounted
// (a container without its own network namespace, under a user namespace) gets `host_sys`
// bound read-only instead (null: none to offer, after pivot_root).
void MountSys(const InitSpec& spec, const std::string& prefix, const char* host_sys) {
  MkdirAll(prefix + "/sys");
  const std::string target = prefix + "/sys";
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (spec.privileged ? 0 : MS_RDONLY);
  if (mount("sysfs", target.c_str(), "sysfs", flags, nullptr) == 0) return;
  if (host_sys == nullptr || mount(host_sys, target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
      (!spec.privileged && !MakeReadOnlyRecursive(target))) {
    Die("mount /sys");
  }
}

}  // namespace

void SetUpFileSystem(const InitSpec& spec, int root_mount_fd) {
  const std::string& rootfs = spec.rootfs;
  const std::string& prefix = rootfs;  // where container paths live right now
  AttachRoot(spec, root_mount_fd);
  MountProc(prefix);
  if (!rootfs.empty() && !spec.host_root) MountSys(spec, rootfs, "/sys");
  if (!spec.privileged && !rootfs.empty()) MaskKernelPaths(prefix);
  for (const InitMount& m : spec.mounts) {
    std::string target = ResolveInRoot(rootfs, m.target);
    if (spec.host_root) {
      // The read-only host root has no room for new mount points: they are made on the host
      // side, as image: host always did, and show through the bind.
      struct stat st;
      if (stat(m.source.c_str(), &st) == 0 && stat(target.c_str(), &st) != 0) {
        EnsureTarget(m.source, target);  // inside the private /tmp and /run
        if (stat(target.c_str(), &st) != 0) EnsureTarget(m.source, target.substr(rootfs.size()));
      }
    }
    BindMount(m.source, target, m.read_only, m.target);
  }
  if (!rootfs.empty() && spec.read_only_rootfs) {
    // Not recursive: the volumes mounted above keep their own modes.
    if (mount(nullptr, rootfs.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) Die("read-only root file system");
  }
}

// The container's root becomes "/" and the host's goes: no host path resolves after this.
void EnterRootFileSystem(const InitSpec& spec) {
  const std::string& rootfs = spec.rootfs;
  if (!rootfs.empty()) {
    // pivot_root(".", ".") as runc does it: the old root ends up mounted over the new one, and
    // detaching "." removes it. No directory for the old root is made (and removed again) in
    // the writable layer, or needed in a read-only root.
    if (chdir(rootfs.c_str()) != 0) Die("chdir to the root file system");
    if (syscall(SYS_pivot_root, ".", ".") != 0) Die("pivot_root");
    if (umount2(".", MNT_DETACH) != 0) Die("detach the old root");
    if (chdir("/") != 0) Die("chdir /");
  }
}


void PrepareFileSystem(const InitSpec& prep, int root_mount_fd, PreparedRoot& prepared) {
  prepared.host_mounts = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (prepared.host_mounts < 0) Die("open the host's mount namespace");
  if (unshare(CLONE_NEWNS) != 0) Die("unshare the mount namespace");
  prepared.own_mounts = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (prepared.own_mounts < 0) Die("open the container's mount namespace");
  AttachRoot(prep, root_mount_fd);
  MountProc(prep.rootfs);
  MaskKernelPaths(prep.rootfs, "/proc");
  EnterRootFileSystem(prep);
  prepared.ready = true;
}


// The host paths a start names, opened from the host's mount namespace for a moment: the pod's
// network namespace, the stdin FIFO, the log, and each volume as a detached copy of what is
// mounted there now (volumes the agent mounted after the spare was made are there).
void OpenHostPaths(const InitSpec& spec, const PreparedRoot& prepared, LogWriter& log, HostHandles& h) {
  if (setns(prepared.host_mounts, CLONE_NEWNS) != 0) Die("enter the host's mount namespace");
  if (!spec.netns_path.empty()) {
    h.netns = open(spec.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (h.netns < 0) Die("join the pod network namespace " + spec.netns_path);
  }
  if (!spec.stdin_path.empty()) {
    // Read-write, as below: the init's own end keeps the FIFO open between attach sessions.
    h.stdin_fd = open(spec.stdin_path.c_str(), O_RDWR | O_CLOEXEC);
    if (h.stdin_fd < 0) Die("open the stdin FIFO " + spec.stdin_path);
  }
  // The file is opened later, once the runtime has made it (see kGateRecord): made here it
  // would cost the init a new inode.
  if (!log.OpenDirectory()) Die("open " + spec.log_path);
  for (const InitMount& m : spec.mounts) {
    int fd = open_tree(AT_FDCWD, m.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fd < 0) Die("bind mount " + m.target + " from " + m.source);
    struct stat st;
    if (fstat(fd, &st) != 0) Die("bind mount " + m.target + " from " + m.source);
    // Private like every mount of the container (nothing mounted under it on either side shows
    // on the other), and read-only all the way down when asked.
    struct mount_attr attr {};
    attr.propagation = MS_PRIVATE;
    if (m.read_only) attr.attr_set = MOUNT_ATTR_RDONLY;
    if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) Die("read-only remount " + m.target);
    h.volumes.push_back(fd);
    h.volume_is_directory.push_back(S_ISDIR(st.st_mode));
  }
  if (setns(prepared.own_mounts, CLONE_NEWNS) != 0) Die("return to the container's mount namespace");
  if (chdir("/") != 0) Die("chdir /");
  close(prepared.host_mounts);
  close(prepared.own_mounts);
}

// The rest of a prepared root, inside it: /sys of the container's network namespace (joined
// by now), its masked paths, the volumes, a read-only root.
void FinishPreparedFileSystem(const InitSpec& spec, HostHandles& h) {
  MountSys(spec, "", nullptr);
  MaskKernelPaths("", "/sys");
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const std::string target = ResolveInRoot("/", spec.mounts[i].target);
    EnsureTargetOfType(h.volume_is_directory[i], target);
    if (move_mount(h.volumes[i], "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      Die("bind mount " + spec.mounts[i].target);
    }
    close(h.volumes[i]);
  }
  if (spec.read_only_rootfs && mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    Die("read-only root file system");
  }
}

}  // namespace berth::agent::init
