#pragma once
// File: testing/eventually.h
// Waits for a condition another thread makes true (an informer event, a status write), with a
// deadline instead of a sleep: true as soon as `pred` holds, false if it never did.

#include <chrono>
#include <functional>
#include <thread>

namespace berth::testing {

inline bool Eventually(const std::function<bool()>& pred, std::chrono::seconds deadline = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::yield();
  }
  return pred();
}

}  // namespace berth::testing
