#include "kubelet-like-agent/runtime/linux/cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "core/strings/strings.h"

namespace berth::agent::runtime {
namespace {

constexpr int64_t kCfsPeriodUs = 100000;

absl::Status WriteFile(const std::string& path, const std::string& value) {
  // O_CREAT | O_TRUNC as a shell's ">" does: cgroupfs ignores both; a plain directory standing in
  // for one in tests gets the file.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(StrCat("cgroup file ", path, ": ", std::strerror(errno)));
  bool ok = write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  int err = errno;
  close(fd);
  if (!ok) return absl::InvalidArgumentError(StrCat("writing \"", value, "\" to ", path, ": ", std::strerror(err)));
  return absl::OkStatus();
}

// A fresh cgroup directory under an existing parent: one mkdir per launch, no walk from the root.
// A leftover of an earlier run is replaced, since it would keep limits this run does not set;
// one that still holds processes (EBUSY) is reused, its limits rewritten below.
absl::Status MakeFreshDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) == 0) return absl::OkStatus();
  if (errno != EEXIST) return absl::PermissionDeniedError(StrCat("mkdir ", dir, ": ", std::strerror(errno)));
  if (rmdir(dir.c_str()) == 0 && mkdir(dir.c_str(), 0755) != 0) {
    return absl::PermissionDeniedError(StrCat("mkdir ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

int64_t ReadKey(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  int64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

absl::Status MkdirAll(const std::string& path) {
  std::string partial;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::PermissionDeniedError(StrCat("mkdir ", partial, ": ", std::strerror(errno)));
      }
    }
  }
  return absl::OkStatus();
}

// hierarchy name ("cpu", "memory", "pids", "" for v2) -> our own path in it.
std::map<std::string, std::string> OwnCgroups() {
  std::map<std::string, std::string> out;
  std::istringstream in(ReadFile("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controllers.empty()) {
      out[""] = path;
      continue;
    }
    for (std::string_view c : Split(controllers, ',')) out[std::string(c)] = path;
  }
  return out;
}

class CgroupV1 final : public CgroupDriver {
 public:
  // dirs: controller -> <mount>/<controller dir><own path>/<subtree>
  explicit CgroupV1(std::map<std::string, std::string> bases) : bases_(std::move(bases)) {}
  std::string version() const override { return "v1"; }

  absl::StatusOr<std::vector<std::string>> Create(const std::string& name, const CgroupLimits& limits) override {
    std::vector<std::string> dirs;
    for (const auto& [controller, base] : bases_) {
      std::string dir = base + "/" + name;
      if (absl::Status s = MakeFreshDir(dir); !s.ok()) return s;
      dirs.push_back(dir);
    }
    if (absl::Status s = ApplyLimits(name, limits); !s.ok()) return s;
    return dirs;
  }

  absl::Status ApplyLimits(const std::string& name, const CgroupLimits& limits) override {
    std::string cpu = bases_.at("cpu") + "/" + name;
    if (limits.cpu_limit_millis) {
      if (auto s = WriteFile(cpu + "/cpu.cfs_period_us", StrCat(kCfsPeriodUs)); !s.ok()) return s;
      int64_t quota = std::max<int64_t>(1000, *limits.cpu_limit_millis * kCfsPeriodUs / 1000);
      if (auto s = WriteFile(cpu + "/cpu.cfs_quota_us", StrCat(quota)); !s.ok()) return s;
    }
    if (limits.cpu_request_millis) {
      if (auto s = WriteFile(cpu + "/cpu.shares", StrCat(CpuShares(*limits.cpu_request_millis))); !s.ok()) return s;
    }
    if (limits.memory_limit_bytes) {
      std::string mem = bases_.at("memory") + "/" + name;
      if (auto s = WriteFile(mem + "/memory.limit_in_bytes", StrCat(*limits.memory_limit_bytes)); !s.ok()) return s;
      // Without swap accounting the limit would let the container swap past it; where the file
      // exists, hold memory+swap to the same figure (written after the plain limit, as required).
      std::string memsw = mem + "/memory.memsw.limit_in_bytes";
      if (access(memsw.c_str(), F_OK) == 0) (void)WriteFile(memsw, StrCat(*limits.memory_limit_bytes));
    }
    if (limits.pids_limit && bases_.count("pids")) {
      if (auto s = WriteFile(bases_.at("pids") + "/" + name + "/pids.max", StrCat(*limits.pids_limit)); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  bool CanRename() const override { return true; }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    std::vector<std::string> done;
    for (const auto& [controller, base] : bases_) {
      std::string source = base + "/" + from, target = base + "/" + to;
      bool renamed = rename(source.c_str(), target.c_str()) == 0;
      if (!renamed && (errno == EEXIST || errno == ENOTEMPTY) && rmdir(target.c_str()) == 0) {
        renamed = rename(source.c_str(), target.c_str()) == 0;  // over an empty leftover
      }
      if (!renamed) {
        int err = errno;
        for (const std::string& b : done) (void)rename((b + "/" + to).c_str(), (b + "/" + from).c_str());
        return absl::FailedPreconditionError(StrCat("rename ", source, " to ", target, ": ", std::strerror(err)));
      }
      done.push_back(base);
    }
    return absl::OkStatus();
  }

  std::vector<std::string> ProcsFiles(const std::string& name) const override {
    std::vector<std::string> out;
    for (const auto& [controller, base] : bases_) out.push_back(base + "/" + name + "/cgroup.procs");
    return out;
  }
  std::string BirthDirectory(const std::string&) const override { return ""; }


  int64_t OomKills(const std::string& name) const override {
    return ReadKey(ReadFile(bases_.at("memory") + "/" + name + "/memory.oom_control"), "oom_kill");
  }

  bool Populated(const std::string& name) const override {
    for (const auto& [controller, base] : bases_) {
      if (!Strip(ReadFile(base + "/" + name + "/cgroup.procs")).empty()) return true;
    }
    return false;
  }

  absl::Status RemoveSubtree() override {
    for (const auto& [controller, base] : bases_) {
      if (rmdir(base.c_str()) != 0 && errno != ENOENT) {
        return absl::FailedPreconditionError(StrCat("rmdir ", base, ": ", std::strerror(errno)));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& name) override {
    for (const auto& [controller, base] : bases_) {
      std::string dir = base + "/" + name;
      if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
        return absl::FailedPreconditionError(StrCat("rmdir ", dir, ": ", std::strerror(errno)));
      }
    }
    return absl::OkStatus();
  }

 private:
  std::map<std::string, std::string> bases_;
};

class CgroupV2 final : public CgroupDriver {
 public:
  explicit CgroupV2(std::string base) : base_(std::move(base)) {}
  std::string version() const override { return "v2"; }

  absl::StatusOr<std::vector<std::string>> Create(const std::string& name, const CgroupLimits& limits) override {
    std::string dir = base_ + "/" + name;
    if (absl::Status s = MakeFreshDir(dir); !s.ok()) return s;
    if (absl::Status s = ApplyLimits(name, limits); !s.ok()) return s;
    return std::vector<std::string>{dir};
  }

  absl::Status ApplyLimits(const std::string& name, const CgroupLimits& limits) override {
    std::string dir = base_ + "/" + name;
    if (limits.cpu_limit_millis) {
      int64_t quota = std::max<int64_t>(1000, *limits.cpu_limit_millis * kCfsPeriodUs / 1000);
      if (auto s = WriteFile(dir + "/cpu.max", StrCat(quota, " ", kCfsPeriodUs)); !s.ok()) return s;
    }
    if (limits.cpu_request_millis) {
      int64_t weight = CpuWeightFromShares(CpuShares(*limits.cpu_request_millis));
      if (auto s = WriteFile(dir + "/cpu.weight", StrCat(weight)); !s.ok()) return s;
    }
    if (limits.memory_limit_bytes) {
      if (auto s = WriteFile(dir + "/memory.max", StrCat(*limits.memory_limit_bytes)); !s.ok()) return s;
      (void)WriteFile(dir + "/memory.swap.max", "0");
    }
    if (limits.pids_limit) {
      if (auto s = WriteFile(dir + "/pids.max", StrCat(*limits.pids_limit)); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  bool CanRename() const override { return false; }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return absl::UnimplementedError(StrCat("cgroup v2 cannot rename ", from, " to ", to));
  }
  std::vector<std::string> ProcsFiles(const std::string& name) const override {
    return {base_ + "/" + name + "/cgroup.procs"};
  }
  std::string BirthDirectory(const std::string& name) const override { return base_ + "/" + name; }
  int64_t OomKills(const std::string& name) const override {
    return ReadKey(ReadFile(base_ + "/" + name + "/memory.events"), "oom_kill");
  }
  bool Populated(const std::string& name) const override {
    return ReadKey(ReadFile(base_ + "/" + name + "/cgroup.events"), "populated") != 0;
  }
  absl::Status RemoveSubtree() override {
    if (rmdir(base_.c_str()) != 0 && errno != ENOENT) {
      return absl::FailedPreconditionError(StrCat("rmdir ", base_, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& name) override {
    std::string dir = base_ + "/" + name;
    if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      return absl::FailedPreconditionError(StrCat("rmdir ", dir, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

 private:
  std::string base_;
};

}  // namespace

std::unique_ptr<CgroupDriver> MakeCgroupV1Driver(std::map<std::string, std::string> bases) {
  return std::make_unique<CgroupV1>(std::move(bases));
}

std::unique_ptr<CgroupDriver> MakeCgroupV2Driver(std::string base) { return std::make_unique<CgroupV2>(std::move(base)); }

int64_t CpuShares(int64_t request_millis) {
  // Kubernetes' MilliCPUToShares: 1024 per CPU, at least 2.
  return std::max<int64_t>(2, request_millis * 1024 / 1000);
}

int64_t CpuWeightFromShares(int64_t shares) {
  // The kernel's and runc's conversion: [2, 262144] -> [1, 10000].
  return 1 + ((shares - 2) * 9999) / 262142;
}

absl::StatusOr<std::unique_ptr<CgroupDriver>> DetectCgroupDriver(const std::string& subtree,
                                                                 const std::string& mount_root) {
  std::map<std::string, std::string> own = OwnCgroups();
  bool only_unified = own.size() == 1 && own.count("");
  if (only_unified) {
    std::string base = mount_root + (own[""] == "/" ? "" : own[""]);
    std::string controllers = ReadFile(base + "/cgroup.controllers");
    if (controllers.find("memory") == std::string::npos) {
      return absl::FailedPreconditionError(
          StrCat("cgroup v2: the memory controller is not delegated to ", base, " (cgroup.controllers: ", controllers, ")"));
    }
    // v2 forbids processes in a cgroup whose children get controllers: put the agent in a leaf
    // of its own subtree (still inside its cgroup), then enable the controllers for children.
    std::string leaf = base + "/agent";
    (void)MkdirAll(leaf);
    (void)WriteFile(leaf + "/cgroup.procs", StrCat(getpid()));
    (void)WriteFile(base + "/cgroup.subtree_control", "+cpu +memory +pids");
    std::string root = base + "/" + subtree;
    if (absl::Status s = MkdirAll(root); !s.ok()) return s;
    (void)WriteFile(root + "/cgroup.subtree_control", "+cpu +memory +pids");
    return MakeCgroupV2Driver(root);
  }
  std::map<std::string, std::string> bases;
  for (const char* controller : {"cpu", "memory", "pids"}) {
    auto it = own.find(controller);
    if (it == own.end()) {
      if (std::string(controller) == "pids") continue;  // optional: no pids limit without it
      return absl::FailedPreconditionError(StrCat("cgroup v1: no ", controller, " hierarchy in /proc/self/cgroup"));
    }
    std::string mount = mount_root + "/" + controller;
    struct stat st;
    if (stat(mount.c_str(), &st) != 0) {
      // Co-mounted hierarchies (cpu,cpuacct) appear under their joint name.
      mount = mount_root + "/cpu,cpuacct";
      if (stat(mount.c_str(), &st) != 0) {
        return absl::FailedPreconditionError(StrCat("cgroup v1: ", controller, " is not mounted under ", mount_root));
      }
    }
    std::string base = mount + (it->second == "/" ? "" : it->second) + "/" + subtree;
    if (absl::Status s = MkdirAll(base); !s.ok()) return s;
    bases[controller] = base;
  }
  return MakeCgroupV1Driver(std::move(bases));
}

}  // namespace berth::agent::runtime
