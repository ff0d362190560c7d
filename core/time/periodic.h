#pragma once
// File: core/time/periodic.h
// Runs a callback every `interval` on its own thread until destroyed. Background chores
// (compaction, heartbeats) use it; tests call the chore directly instead of waiting for it.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace berth {

class Periodic {
 public:
  Periodic(absl::Duration interval, std::function<void()> chore);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace berth
