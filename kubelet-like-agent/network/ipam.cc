// File: kubelet-like-agent/network/ipam.cc
#include "kubelet-like-agent/network/ipam.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace berth::agent::network {
namespace fs = std::filesystem;
namespace {

// Holds the directory's lock file: the agent's workers and `berth` tools share the directory.
class DirLock {
 public:
  explicit DirLock(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    fd_ = open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~DirLock() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  // host-local writes "<id>\n<ifname>": the owner is the first line.
  return s.substr(0, s.find('\n'));
}

// Written to a temporary name and renamed: an agent crash leaves either no file or a whole one.
absl::Status WriteFileAtomically(const fs::path& p, const std::string& content) {
  std::string tmp = p.string() + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("ipam: ", tmp, ": ", std::strerror(errno)));
  bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  close(fd);
  if (!ok || rename(tmp.c_str(), p.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("ipam: writing ", p.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::map<uint32_t, std::string> HostLocalIpam::Allocations() const {
  std::map<uint32_t, std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    auto ip = net::ParseIpv4(entry.path().filename().string());
    if (ip.ok()) out[*ip] = ReadFile(entry.path());
  }
  return out;
}

std::optional<uint32_t> HostLocalIpam::Find(const std::string& owner) const {
  for (const auto& [ip, who] : Allocations()) {
    if (who == owner) return ip;
  }
  return std::nullopt;
}

absl::StatusOr<uint32_t> HostLocalIpam::Allocate(const std::string& owner) {
  DirLock lock(dir_);
  if (!lock.ok()) return absl::UnavailableError(absl::StrCat("ipam: cannot lock ", dir_, ": ", std::strerror(errno)));
  std::map<uint32_t, std::string> taken = Allocations();
  for (const auto& [ip, who] : taken) {
    if (who == owner && range_.Contains(ip)) return ip;
  }
  if (range_.length > 30) return absl::ResourceExhaustedError(absl::StrCat("podCIDR ", range_.ToString(), " has no room for pods"));
  const uint32_t first = range_.network + 2, last = range_.broadcast() - 1;
  uint32_t start = first;
  if (auto previous = net::ParseIpv4(ReadFile(fs::path(dir_) / "last_reserved_ip.0"));
      previous.ok() && *previous >= first && *previous < last) {
    start = *previous + 1;
  }
  const uint64_t count = uint64_t{last} - first + 1;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t candidate = static_cast<uint32_t>(first + (uint64_t{start} - first + i) % count);
    if (taken.count(candidate)) continue;
    // O_EXCL: the file is the reservation, as in host-local.
    std::string path = (fs::path(dir_) / net::FormatIpv4(candidate)).string();
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return absl::UnavailableError(absl::StrCat("ipam: ", path, ": ", std::strerror(errno)));
    }
    // No fsync (host-local has none either): the files must outlive the agent, not the machine —
    // a machine crash takes every pod's network namespace with it. An fsync was half the set-up.
    bool ok = write(fd, owner.data(), owner.size()) == static_cast<ssize_t>(owner.size());
    close(fd);
    if (!ok) {
      unlink(path.c_str());
      return absl::UnavailableError(absl::StrCat("ipam: writing ", path, ": ", std::strerror(errno)));
    }
    absl::Status last_written = WriteFileAtomically(fs::path(dir_) / "last_reserved_ip.0", net::FormatIpv4(candidate));
    if (!last_written.ok()) return last_written;
    return candidate;
  }
  return absl::ResourceExhaustedError(absl::StrCat("no free address in podCIDR ", range_.ToString()));
}

absl::Status HostLocalIpam::Release(const std::string& owner) {
  DirLock lock(dir_);
  for (const auto& [ip, who] : Allocations()) {
    if (who != owner) continue;
    std::error_code ec;
    fs::remove(fs::path(dir_) / net::FormatIpv4(ip), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("ipam: removing ", net::FormatIpv4(ip), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace berth::agent::network
