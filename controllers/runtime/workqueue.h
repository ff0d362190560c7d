#pragma once
// File: controllers/runtime/workqueue.h
// A work queue with client-go semantics: a key waiting in the queue is there once however often
// it is added; a key being processed is never handed to a second worker (a re-add while
// processing is held until Done); delayed adds; per-item exponential backoff combined with an
// overall token bucket for rate-limited adds.
//
// Thread-safe. Time comes from the injected Clock, so tests drive delays with a FakeClock.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/time/clock.h"

namespace berth::controllers {

struct RateLimits {
  absl::Duration base_delay = absl::Milliseconds(5);
  absl::Duration max_delay = absl::Seconds(300);
  double qps = 50;    // overall bucket
  double burst = 300;
};

class WorkQueue {
 public:
  explicit WorkQueue(const Clock& clock, RateLimits limits = {});

  void Add(const std::string& key);
  void AddAfter(const std::string& key, absl::Duration delay);
  void AddRateLimited(const std::string& key);
  // Clears the key's failure history (its backoff restarts at base_delay).
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready; nullopt once ShutDown has been called and nothing is left.
  std::optional<std::string> Get();
  // Non-blocking Get for tests: the next ready key (due delayed keys included), if any.
  std::optional<std::string> TryGet();
  void Done(const std::string& key);
  void ShutDown();

  size_t Len() const;  // ready keys waiting

 private:
  void PromoteDueLocked();
  void EnqueueLocked(const std::string& key);
  std::optional<std::string> PopLocked();

  const Clock& clock_;
  const RateLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;
  std::set<std::string> processing_;
  std::multimap<std::chrono::steady_clock::time_point, std::string> delayed_;
  std::map<std::string, int> failures_;
  double tokens_;
  std::chrono::steady_clock::time_point last_refill_;
  bool shutting_down_ = false;
};

}  // namespace berth::controllers
