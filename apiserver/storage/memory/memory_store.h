#pragma once
// File: apiserver/storage/memory/memory_store.h
// The reference Store: everything in memory, nothing durable. Used by unit tests, the in-process
// TestApiServer, and as the conformance suite's baseline.

#include <deque>
#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "apiserver/storage/snapshot_cache.h"
#include "apiserver/storage/store.h"
#include "apiserver/storage/subscribers.h"
#include "core/time/clock.h"

namespace berth::apiserver::storage {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(const Clock& clock, RetentionPolicy retention = {});

  absl::StatusOr<KeyValue> Get(std::string_view key) const override;
  absl::StatusOr<ListResult> List(std::string_view prefix, const ListOptions& options) const override;
  absl::StatusOr<uint64_t> Create(std::string_view key, Encoder encode) override;
  absl::StatusOr<uint64_t> Update(std::string_view key, Encoder encode, uint64_t expected) override;
  absl::StatusOr<uint64_t> Delete(std::string_view key, Encoder final_state,
                                  std::optional<uint64_t> expected) override;
  uint64_t CurrentRevision() const override;
  uint64_t CompactedRevision() const override;
  absl::StatusOr<std::vector<ChangeEvent>> ReadLog(uint64_t after, size_t limit) const override;
  std::unique_ptr<Subscription> Subscribe(std::function<void(const ChangeEvent&)> sink) override;
  absl::StatusOr<uint64_t> CompactNow() override;

 private:
  using Map = std::map<std::string, KeyValue, std::less<>>;
  struct LogEntry {
    ChangeEvent event;
    absl::Time at;
  };
  uint64_t Commit(ChangeEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const RetentionPolicy retention_;
  mutable absl::Mutex mu_;
  Map objects_ ABSL_GUARDED_BY(mu_);
  std::deque<LogEntry> log_ ABSL_GUARDED_BY(mu_);
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t compacted_ ABSL_GUARDED_BY(mu_) = 0;
  mutable SnapshotCache<std::shared_ptr<const Map>> snapshots_;
  Subscribers subscribers_;
};

}  // namespace berth::apiserver::storage
