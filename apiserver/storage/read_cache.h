#pragma once
// File: apiserver/storage/read_cache.h
// Recently read objects, so that a point read of a hot object (a GET by name, admission's
// lookups) skips the store's own read path. In RocksDB that path costs 1-2 µs once the object
// has left the memtable (index and data block seeks, the block cache's lock), a tenth of what a
// GET by name costs the server in all.
//
// Contract: as consistent as a read of the store itself. The store calls Apply with every
// committed batch after its write succeeded and before it publishes or answers; an entry a batch
// wrote is updated (or dropped) there. A read that missed fills the cache only if no batch was
// applied since it began (Epoch before the store read, Fill after): otherwise the value it read
// may predate a write the cache has already seen, and it is dropped.
//
// Bounded by bytes (keys and values), least recently used out first; sharded by key so that
// concurrent readers of different objects do not share a lock.

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "apiserver/storage/store.h"

namespace berth::apiserver::storage {

class ReadCache {
 public:
  explicit ReadCache(size_t capacity_bytes);

  struct Hit {
    std::string value;
    uint64_t revision;
  };
  std::optional<Hit> Find(std::string_view key);

  uint64_t Epoch() const { return epoch_.load(); }
  // Caches what a store read that began at `epoch` found (a missing key is not cached).
  void Fill(std::string_view key, std::string_view value, uint64_t revision, uint64_t epoch);
  // A committed batch: entries of keys it wrote take the new values, deleted ones go.
  void Apply(const std::vector<ChangeEvent>& events);

  size_t size_bytes() const;
  size_t capacity_bytes() const { return capacity_; }

 private:
  struct Entry {
    std::string key;
    std::string value;
    uint64_t revision;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> lru;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // views into lru's keys
    size_t bytes = 0;
  };
  static constexpr size_t kShards = 8;
  static size_t Cost(const Entry& e) { return e.key.size() + e.value.size() + 64; }
  Shard& ShardOf(std::string_view key);
  void Evict(Shard& s);

  const size_t capacity_;
  std::atomic<uint64_t> epoch_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace berth::apiserver::storage
