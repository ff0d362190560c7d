#include "kubelet-like-agent/runtime/linux/exit_monitor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace berth::agent::runtime {

ExitMonitor::ExitMonitor(std::function<void(const std::vector<std::string>&)> handler)
    : handler_(std::move(handler)), epoll_fd_(epoll_create1(EPOLL_CLOEXEC)), wake_fd_(eventfd(0, EFD_CLOEXEC)) {
  if (!ok()) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Loop(); });
}

ExitMonitor::~ExitMonitor() {
  uint64_t one = 1;
  if (wake_fd_ >= 0 && write(wake_fd_, &one, sizeof one) < 0) {
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [fd, id] : by_fd_) close(fd);
  by_fd_.clear();
  by_id_.clear();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool ExitMonitor::Watch(const std::string& id, int64_t pid) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd < 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto old = by_id_.find(id); old != by_id_.end()) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, old->second, nullptr);
    by_fd_.erase(old->second);
    close(old->second);
  }
  by_fd_[fd] = id;
  by_id_[id] = fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  return true;
}

void ExitMonitor::Unwatch(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second, nullptr);
  by_fd_.erase(it->second);
  close(it->second);
  by_id_.erase(it);
}

void ExitMonitor::Loop() {
  epoll_event events[32];
  while (true) {
    int n = epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    std::vector<std::string> ended;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == wake_fd_) return;
        auto it = by_fd_.find(events[i].data.fd);
        if (it != by_fd_.end()) ended.push_back(it->second);
      }
    }
    if (!ended.empty()) handler_(ended);
  }
}

}  // namespace berth::agent::runtime
