#pragma once
// File: kubelet-like-agent/runtime/linux/exit_monitor.h
// Watches container inits through pidfds on one epoll thread and reports which ended. Works for
// the agent's own children and for inits adopted from an earlier agent run alike (a pidfd does
// not need the parent).
//
// Thread-safe. The handler runs on the monitor thread, one batch of ended ids at a time; it may
// call Unwatch.

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
  explicit ExitMonitor(std::function<void(const std::vector<std::string>& ended_ids)> handler);
  ~ExitMonitor();  // stops the thread and closes every pidfd
  ExitMonitor(const ExitMonitor&) = delete;
  ExitMonitor& operator=(const ExitMonitor&) = delete;

  bool ok() const { return epoll_fd_ >= 0 && wake_fd_ >= 0; }
  // Starts watching `pid` as `id`; false when the process is already gone (no pidfd).
  bool Watch(const std::string& id, int64_t pid);
  void Unwatch(const std::string& id);

 private:
  void Loop();

  const std::function<void(const std::vector<std::string>&)> handler_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mu_;
  std::map<int, std::string> by_fd_;
  std::map<std::string, int> by_id_;
  std::thread thread_;
};

}  // namespace berth::agent::runtime
