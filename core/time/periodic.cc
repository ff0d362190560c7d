#include "core/time/periodic.h"

namespace berth {

Periodic::Periodic(absl::Duration interval, std::function<void()> chore) {
  thread_ = std::thread([this, interval, chore = std::move(chore)] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (cv_.wait_for(lock, absl::ToChronoNanoseconds(interval), [this] { return stop_; })) break;
      lock.unlock();
      chore();
      lock.lock();
    }
  });
}

Periodic::~Periodic() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace berth
