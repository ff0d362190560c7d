#pragma once
// File: kubelet-like-agent/network/netns_thread.h
// One thread that lives in the node's network namespace and runs the network work handed to it.
// The agent itself stays in its own namespace (where the API and its port are); setns() is per
// thread, so only this thread moves, and anything it creates there (netlink sockets, nft
// contexts, listening sockets) stays bound to that namespace after it switches away.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace berth::agent::network {

class NetnsThread {
 public:
  // `netns_path` empty: the agent's own namespace.
  static absl::StatusOr<std::unique_ptr<NetnsThread>> Start(const std::string& netns_path);
  ~NetnsThread();
  NetnsThread(const NetnsThread&) = delete;
  NetnsThread& operator=(const NetnsThread&) = delete;

  // Runs `work` on the thread and waits for it.
  absl::Status Run(const std::function<absl::Status()>& work);
  // The node namespace (the thread's home): work that visits another namespace returns here.
  int home_fd() const { return home_fd_; }

 private:
  NetnsThread() = default;
  void Loop();

  int home_fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// Enters the namespace of `fd` on the calling thread and returns to `home_fd` when it goes out
// of scope. For use on a NetnsThread only.
class NetnsVisit {
 public:
  NetnsVisit(int fd, int home_fd);
  ~NetnsVisit();
  bool ok() const { return ok_; }

 private:
  int home_fd_;
  bool ok_ = false;
};

}  // namespace berth::agent::network
