// File: kubelet-like-agent/network/netns_thread.cc
#include "kubelet-like-agent/network/netns_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"

namespace berth::agent::network {

absl::StatusOr<std::unique_ptr<NetnsThread>> NetnsThread::Start(const std::string& netns_path) {
  std::unique_ptr<NetnsThread> t(new NetnsThread());
  std::string path = netns_path.empty() ? "/proc/self/ns/net" : netns_path;
  t->home_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (t->home_fd_ < 0) return absl::InvalidArgumentError(absl::StrCat("--node-netns ", path, ": ", std::strerror(errno)));
  std::promise<absl::Status> entered;
  t->thread_ = std::thread([&entered, raw = t.get()] {
    if (setns(raw->home_fd_, CLONE_NEWNET) != 0) {
      entered.set_value(absl::InternalError(absl::StrCat("setns into the node network namespace: ", std::strerror(errno))));
      return;
    }
    entered.set_value(absl::OkStatus());
    raw->Loop();
  });
  absl::Status s = entered.get_future().get();
  if (!s.ok()) {
    t->thread_.join();
    t->thread_ = std::thread();
    return s;
  }
  return t;
}

NetnsThread::~NetnsThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (home_fd_ >= 0) close(home_fd_);
}

void NetnsThread::Loop() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

absl::Status NetnsThread::Run(const std::function<absl::Status()>& work) {
  if (std::this_thread::get_id() == thread_.get_id()) return work();
  std::promise<absl::Status> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::CancelledError("the network thread is stopping");
    queue_.push_back([&] { done.set_value(work()); });
  }
  cv_.notify_one();
  return done.get_future().get();
}

NetnsVisit::NetnsVisit(int fd, int home_fd) : home_fd_(home_fd) { ok_ = setns(fd, CLONE_NEWNET) == 0; }

NetnsVisit::~NetnsVisit() {
  if (ok_ && setns(home_fd_, CLONE_NEWNET) != 0) {
    // Staying in a pod's namespace would send every later node operation there: stop instead.
    BERTH_LOG(Error, "agent.network", "cannot return to the node network namespace", "error", std::strerror(errno));
    std::abort();
  }
}

}  // namespace berth::agent::network
