#pragma once
// File: kubelet-like-agent/runtime/linux/exit_monitor.h
// Watches container inits through pidfds on one epoll thread and reports which ended. Works for
// the agent's own children and for inits adopted from an earlier agent run alike (a pidfd does
// not need the parent). An init the agent launched also has a notice pipe: it writes one byte
// there once the container's processes are gone and their exit is recorded, before its own
// exit tears the mounts and namespaces down; that is reported first, as `recorded`.
//
// Thread-safe. The handler runs on the monitor thread, one batch at a time; it may call
// Unwatch.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::agent::runtime {

class ExitMonitor {
 public:
  struct Ended {
    std::string id;
    bool init_gone = false;  // false: only recorded (the init is still on its way out)
  };
  explicit ExitMonitor(std::function<void(const std::vector<Ended>& ended)> handler);
  ~ExitMonitor();  // stops the thread and closes every pidfd
  ExitMonitor(const ExitMonitor&) = delete;
  ExitMonitor& operator=(const ExitMonitor&) = delete;

  bool ok() const { return epoll_fd_ >= 0 && wake_fd_ >= 0; }
  // Starts watching `pid` as `id`, and `notice_fd` (taken over; -1: none); false when the
  // process is already gone (no pidfd).
  bool Watch(const std::string& id, int64_t pid, int notice_fd = -1);
  void Unwatch(const std::string& id);

 private:
  void Loop();

  void DropLocked(int fd);

  const std::function<void(const std::vector<Ended>&)> handler_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mu_;
  struct Entry {
    std::string id;
    bool notice = false;  // the notice pipe, not the pidfd
  };
  std::map<int, Entry> by_fd_;
  std::map<std::string, std::vector<int>> by_id_;  // the pidfd, and the notice pipe while open
  std::thread thread_;
};

}  // namespace berth::agent::runtime
