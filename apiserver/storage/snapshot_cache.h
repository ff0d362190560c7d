#pragma once
// File: apiserver/storage/snapshot_cache.h
// Keeps the read snapshots of paged lists alive for a while, keyed by revision, so that the
// pages after the first read the same revision as the first (Kubernetes' `continue` semantics).
// A token older than `ttl`, or evicted by newer ones, answers kOutOfRange (410 Expired).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

#include "absl/synchronization/mutex.h"

namespace berth::apiserver::storage {

template <typename Snapshot>
class SnapshotCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  SnapshotCache(std::chrono::seconds ttl, size_t capacity) : ttl_(ttl), capacity_(capacity) {}

  void Put(uint64_t revision, Snapshot snapshot, TimePoint now) {
    absl::MutexLock lock(&mu_);
    Expire(now);
    auto& e = entries_[revision];
    e.snapshot = std::move(snapshot);
    e.expires = now + ttl_;
    while (entries_.size() > capacity_) entries_.erase(entries_.begin());
  }

  std::optional<Snapshot> Get(uint64_t revision, TimePoint now) {
    absl::MutexLock lock(&mu_);
    Expire(now);
    auto it = entries_.find(revision);
    if (it == entries_.end()) return std::nullopt;
    it->second.expires = now + ttl_;
    return it->second.snapshot;
  }

 private:
  struct Entry {
    Snapshot snapshot;
    TimePoint expires;
  };
  void Expire(TimePoint now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.expires < now ? entries_.erase(it) : std::next(it);
    }
  }

  const std::chrono::seconds ttl_;
  const size_t capacity_;
  absl::Mutex mu_;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::apiserver::storage
