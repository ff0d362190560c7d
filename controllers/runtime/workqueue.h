#pragma once
// File: controllers/runtime/workqueue.h
// A work queue with client-go semantics: a key waiting in the queue is there once however often
// it is added; a key being processed is never handed to a second worker (a re-add while
// processing is held until Done); delayed adds; per-item exponential backoff combined with an
// overall token bucket for rate-limited adds.
//
// Thread-safe. Time comes from the injected Clock, so tests drive delays with a FakeClock.
//
// With a ranking (the scheduler's: priority, then age), ready keys pop lowest rank first, ties
// in arrival order; without one, first in first out.

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
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
  using Rank = std::array<int64_t, 3>;  // compared lexicographically, lowest first
  using Ranking = std::function<Rank(const std::string& key)>;

  explicit WorkQueue(const Clock& clock, RateLimits limits = {});

  // Orders ready keys by `ranking`, evaluated when a key is queued and never under the queue's
  // lock (it may read caches whose handlers add to this queue). Before the first Add.
  void SetRanking(Ranking ranking) { ranking_ = std::move(ranking); }
  // Optional, with a ranking: rank[1] names a group, and among the ready keys of the best
  // rank[0] the next to pop is the head (lowest rank) of the group whose head goes first by
  // `before(a_head, b_head)` — an order that may change between pops (the scheduler's fair
  // share). Called under the queue's lock: it must not block on anything that adds to this
  // queue. Before the first Add.
  using HeadOrder = std::function<bool(const Rank& a, const Rank& b)>;
  void SetHeadOrder(HeadOrder before) { head_order_ = std::move(before); }

  void Add(const std::string& key);
  // Adds every key at once: with a ranking, a worker waiting for work sees them all and takes
  // the best, not whichever was added first.
  void AddAll(const std::vector<std::string>& keys);
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
  struct Delayed {
    std::string key;
    Rank rank;
  };
  Rank RankOf(const std::string& key) const { return ranking_ ? ranking_(key) : Rank{}; }
  void PromoteDueLocked();
  void EnqueueLocked(const std::string& key, const Rank& rank);
  void PushReadyLocked(const std::string& key, const Rank& rank);
  std::optional<std::string> PopLocked();

  const Clock& clock_;
  const RateLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Ranking ranking_;
  HeadOrder head_order_;
  std::deque<std::string> queue_;                                  // without a ranking
  std::set<std::tuple<Rank, uint64_t, std::string>> ranked_;       // with one: (rank, arrival)
  uint64_t arrivals_ = 0;
  std::map<std::string, Rank> dirty_;  // waiting or re-added while processing, with its rank
  std::set<std::string> processing_;
  std::multimap<std::chrono::steady_clock::time_point, Delayed> delayed_;
  std::map<std::string, int> failures_;
  double tokens_;
  std::chrono::steady_clock::time_point last_refill_;
  bool shutting_down_ = false;
};

}  // namespace berth::controllers
