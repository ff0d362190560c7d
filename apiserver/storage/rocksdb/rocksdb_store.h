#pragma once
// File: apiserver/storage/rocksdb/rocksdb_store.h
// The embedded, durable Store. The only file set that includes <rocksdb/...>.
//
// Writes go through one commit thread: it takes every mutation queued since its last sync,
// checks their preconditions in order, assigns consecutive revisions, writes objects, change-log
// entries and the revision counter in one WriteBatch, syncs the WAL once, publishes the events,
// and only then answers the callers. Many concurrent writers therefore share one fsync (group
// commit) and the revision order is the commit order.

#include <deque>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "apiserver/storage/read_cache.h"
#include "apiserver/storage/snapshot_cache.h"
#include "apiserver/storage/store.h"
#include "apiserver/storage/subscribers.h"
#include "core/time/clock.h"
#include "core/time/periodic.h"

namespace rocksdb {
class DB;
class Snapshot;
}  // namespace rocksdb

namespace berth::apiserver::storage {

struct RocksDbOptions {
  RetentionPolicy retention;
  absl::Duration compaction_interval = absl::Seconds(30);
  bool sync = true;  // false only for benchmarks that measure the non-durable path
  size_t max_batch = 4096;
  // Recently read objects kept in memory (ReadCache); 0 turns it off.
  size_t read_cache_bytes = 16 << 20;
  // A write that finds the store idle (nothing queued, nothing committing, and the last batch a
  // single write, so no one else is writing) is committed on the caller's thread: the hand-off
  // to the commit thread cost a wake-up (~40 us between this VM's vCPUs). Under load writes
  // queue and are committed in groups by the commit thread: a lone write committed inline
  // there made the others' group wait behind its sync (creates at c=64: p99 +12%).
  bool commit_idle_writes_inline = true;
};

struct CommitStats {
  uint64_t batches = 0;
  uint64_t mutations = 0;
  double total_sync_seconds = 0;
};

class RocksDbStore final : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<RocksDbStore>> Open(const std::string& path,
                                                            const Clock& clock,
                                                            RocksDbOptions options = {});
  ~RocksDbStore() override;

  absl::StatusOr<KeyValue> Get(std::string_view key) const override;
  absl::StatusOr<ListResult> List(std::string_view prefix, const ListOptions& options) const override;
  absl::StatusOr<uint64_t> Create(std::string_view key, Encoder encode) override;
  void CreateAsync(std::string_view key, Encoder encode,
                   std::function<void(absl::StatusOr<uint64_t>)> done) override;
  absl::StatusOr<uint64_t> Update(std::string_view key, Encoder encode, uint64_t expected) override;
  absl::StatusOr<uint64_t> Delete(std::string_view key, Encoder final_state,
                                  std::optional<uint64_t> expected) override;
  uint64_t CurrentRevision() const override;
  uint64_t CompactedRevision() const override;
  absl::StatusOr<std::vector<ChangeEvent>> ReadLog(uint64_t after, size_t limit) const override;
  std::unique_ptr<Subscription> Subscribe(std::function<void(const ChangeEvent&)> sink) override;
  absl::StatusOr<uint64_t> CompactNow() override;

  // Observer for commit latency and batch size: called on the commit thread after each sync.
  void SetCommitObserver(std::function<void(size_t batch, double seconds)> observer);
  CommitStats Stats() const;
  // A full RocksDB compaction: overwritten versions leave the files (after re-encryption).
  absl::Status CompactFiles();

 private:
  struct Op;
  struct Shared;
  RocksDbStore(std::unique_ptr<rocksdb::DB> db, const Clock& clock, RocksDbOptions options);
  absl::StatusOr<uint64_t> Submit(std::unique_ptr<Op> op);
  void Enqueue(std::unique_ptr<Op> op);
  void CommitLoop();
  void CommitBatch(std::vector<std::unique_ptr<Op>>& ops);

  std::unique_ptr<rocksdb::DB> db_;
  const Clock& clock_;
  const RocksDbOptions options_;

  mutable absl::Mutex queue_mu_;
  std::deque<std::unique_ptr<Op>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  // A batch is being committed (by the commit thread or inline): one at a time, in queue order.
  bool committing_ ABSL_GUARDED_BY(queue_mu_) = false;
  size_t last_batch_size_ ABSL_GUARDED_BY(queue_mu_) = 1;

  // Written only by the commit thread (and CompactNow for compacted_), read by anyone.
  std::atomic<uint64_t> revision_{0};
  std::atomic<uint64_t> compacted_{0};
  mutable absl::Mutex compact_mu_;

  mutable absl::Mutex stats_mu_;
  CommitStats stats_ ABSL_GUARDED_BY(stats_mu_);
  std::function<void(size_t, double)> observer_ ABSL_GUARDED_BY(stats_mu_);

  mutable SnapshotCache<std::shared_ptr<const rocksdb::Snapshot>> snapshots_;
  mutable ReadCache read_cache_;
  Subscribers subscribers_;
  std::thread commit_thread_;
  std::unique_ptr<Periodic> compactor_;
};

}  // namespace berth::apiserver::storage
