#include "controllers/runtime/workqueue.h"

#include <limits>

#include "controllers/runtime/reconciler.h"

#include <algorithm>
#include <cmath>

namespace berth::controllers {

Request Request::FromKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

WorkQueue::WorkQueue(const Clock& clock, RateLimits limits)
    : clock_(clock), limits_(limits), tokens_(limits.burst), last_refill_(clock.MonotonicNow()) {}

void WorkQueue::PushReadyLocked(const std::string& key, const Rank& rank) {
  if (ranking_) {
    ranked_.emplace(rank, arrivals_++, key);
  } else {
    queue_.push_back(key);
  }
  cv_.notify_one();
}

void WorkQueue::EnqueueLocked(const std::string& key, const Rank& rank) {
  if (dirty_.count(key)) return;
  dirty_.emplace(key, rank);
  if (processing_.count(key)) return;  // Done() will queue it
  PushReadyLocked(key, rank);
}

void WorkQueue::Add(const std::string& key) {
  Rank rank = RankOf(key);
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  EnqueueLocked(key, rank);
}

void WorkQueue::AddAll(const std::vector<std::string>& keys) {
  std::vector<Rank> ranks;
  ranks.reserve(keys.size());
  for (const std::string& key : keys) ranks.push_back(RankOf(key));
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  for (size_t i = 0; i < keys.size(); ++i) EnqueueLocked(keys[i], ranks[i]);
}

void WorkQueue::AddAfter(const std::string& key, absl::Duration delay) {
  if (delay <= absl::ZeroDuration()) return Add(key);
  Rank rank = RankOf(key);
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  delayed_.emplace(clock_.MonotonicNow() + absl::ToChronoNanoseconds(delay), Delayed{key, rank});
  cv_.notify_one();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  absl::Duration delay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int n = failures_[key]++;
    // Per item: base * 2^n, capped.
    double factor = std::pow(2.0, std::min(n, 40));
    delay = std::min(limits_.base_delay * factor, limits_.max_delay);
    // Overall: a token bucket; an empty bucket delays until the next token.
    auto now = clock_.MonotonicNow();
    double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    tokens_ = std::min(limits_.burst, tokens_ + elapsed * limits_.qps);
    last_refill_ = now;
    tokens_ -= 1;
    if (tokens_ < 0) delay = std::max(delay, absl::Seconds(-tokens_ / limits_.qps));
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked() {
  auto now = clock_.MonotonicNow();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    Delayed d = std::move(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    EnqueueLocked(d.key, d.rank);
  }
}

std::optional<std::string> WorkQueue::PopLocked() {
  std::string key;
  if (ranking_) {
    if (ranked_.empty()) return std::nullopt;
    auto best = ranked_.begin();
    if (head_order_) {
      // Among the groups (rank[1]) at the best rank[0], the head head_order_ puts first: one
      // lower_bound per group, so a pop costs O(groups log n).
      const int64_t level = std::get<0>(*best)[0];
      for (auto it = best; it != ranked_.end() && std::get<0>(*it)[0] == level;) {
        if (head_order_(std::get<0>(*it), std::get<0>(*best))) best = it;
        const int64_t group = std::get<0>(*it)[1];
        if (group == std::numeric_limits<int64_t>::max()) break;
        it = ranked_.lower_bound({Rank{level, group + 1, std::numeric_limits<int64_t>::min()}, 0, std::string()});
      }
    }
    auto node = ranked_.extract(best);
    key = std::move(std::get<2>(node.value()));
  } else {
    if (queue_.empty()) return std::nullopt;
    key = std::move(queue_.front());
    queue_.pop_front();
  }
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    PromoteDueLocked();
    if (auto key = PopLocked()) return key;
    if (shutting_down_) return std::nullopt;
    // Wake for the next delayed key; 100 ms at most so a fake clock's advance is noticed.
    auto wait = std::chrono::milliseconds(100);
    if (!delayed_.empty()) {
      auto until = delayed_.begin()->first - clock_.MonotonicNow();
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(until) + std::chrono::milliseconds(1));
    }
    cv_.wait_for(lock, wait);
  }
}

std::optional<std::string> WorkQueue::TryGet() {
  std::lock_guard<std::mutex> lock(mu_);
  PromoteDueLocked();
  return PopLocked();
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(key);
  // Re-added while processing: queued now with the rank it was added with.
  if (auto it = dirty_.find(key); it != dirty_.end()) PushReadyLocked(key, it->second);
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ranking_ ? ranked_.size() : queue_.size();
}

}  // namespace berth::controllers
