#include "kubelet-like-agent/runtime/linux/exit_monitor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace berth::agent::runtime {

ExitMonitor::ExitMonitor(std::function<void(const std::vector<Ended>&)> handler)
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
  for (const auto& [fd, entry] : by_fd_) close(fd);
  by_fd_.clear();
  by_id_.clear();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ExitMonitor::DropLocked(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  std::vector<int>& fds = by_id_[it->second.id];
  std::erase(fds, fd);
  if (fds.empty()) by_id_.erase(it->second.id);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  by_fd_.erase(it);
}

bool ExitMonitor::Watch(const std::string& id, int64_t pid, int notice_fd) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd < 0) {
    if (notice_fd >= 0) close(notice_fd);
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto old = by_id_.find(id); old != by_id_.end()) {
    for (int old_fd : std::vector<int>(old->second)) DropLocked(old_fd);
  }
  for (int watched : {fd, notice_fd}) {
    if (watched < 0) continue;
    by_fd_[watched] = Entry{id, watched == notice_fd};
    by_id_[id].push_back(watched);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = watched;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, watched, &ev);
  }
  return true;
}

void ExitMonitor::Unwatch(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  for (int fd : std::vector<int>(it->second)) DropLocked(fd);
}

void ExitMonitor::Loop() {
  epoll_event events[32];
  while (true) {
    int n = epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    std::vector<Ended> ended;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == wake_fd_) return;
        auto it = by_fd_.find(events[i].data.fd);
        if (it == by_fd_.end()) continue;
        if (!it->second.notice) {
          ended.push_back(Ended{it->second.id, true});
          continue;
        }
        // One byte: recorded. End-of-file without it: the init died before recording (killed),
        // which its pidfd reports with the wait status.
        char byte = 0;
        ssize_t got = read(it->first, &byte, 1);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        std::string id = it->second.id;
        DropLocked(events[i].data.fd);
        if (got == 1) ended.push_back(Ended{id, false});
      }
    }
    if (!ended.empty()) handler_(ended);
  }
}

}  // namespace berth::agent::runtime
