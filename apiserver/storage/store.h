#pragma once
// File: apiserver/storage/store.h
// A revisioned key-value store with an ordered change feed: the only thing the registry knows
// about persistence. Backends (MemoryStore, RocksDbStore; etcd later) must pass
// unit/apiserver/storage/store_conformance.h.
//
// Contract:
// - One global revision. Each successful mutation takes the next revision and appends exactly one
//   ChangeEvent to the change log, atomically with the object write.
// - A mutation returns only once it is durable (for RocksDbStore: in the synced WAL). Concurrent
//   mutations share syncs; their revisions reflect the order in which they were applied.
// - Subscribers see events strictly in revision order, each once, only after they are durable.
// - Reads are consistent snapshots: a List reflects exactly one revision.
// - Thread-safe.
//
// Codes: kNotFound, kAlreadyExists, kAborted (expected revision mismatch), kOutOfRange (revision
// compacted or snapshot expired), kUnavailable / kDataLoss / kInternal from the backend.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::apiserver::storage {

struct KeyValue {
  std::string key;
  std::string value;
  uint64_t revision = 0;  // revision of the last modification
};

struct ListOptions {
  std::string start_after;  // exclusive; empty starts at the prefix
  size_t limit = 0;         // 0: no limit
  uint64_t at_revision = 0; // 0: current; otherwise a revision returned by an earlier paged List
  // Keep this read's snapshot for later pages even when the result is not cut short (the
  // caller filters and may stop early).
  bool keep_snapshot = false;
};

struct ListResult {
  std::vector<KeyValue> items;
  uint64_t revision = 0;  // the revision the snapshot reflects
  bool more = false;      // limit cut the result short
};

struct ChangeEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type = Type::kAdded;
  std::string key;
  std::string value;       // the new object; for kDeleted the final state
  std::string prev_value;  // the object before, when the store knows it (empty otherwise)
  uint64_t revision = 0;
};

// Produces the bytes to store, given the revision the write will take: the registry stamps
// metadata.resourceVersion with it so that reads never rewrite objects.
using Encoder = std::function<std::string(uint64_t revision)>;

struct RetentionPolicy {
  // The change log keeps an event while it is among the newest `min_events` OR younger than
  // `min_age` (whichever keeps more).
  uint64_t min_events = 100000;
  absl::Duration min_age = absl::Minutes(5);
};

class Subscription {
 public:
  virtual ~Subscription() = default;  // stops delivery; no sink call after it returns
};

class Store {
 public:
  virtual ~Store() = default;

  [[nodiscard]] virtual absl::StatusOr<KeyValue> Get(std::string_view key) const = 0;
  [[nodiscard]] virtual absl::StatusOr<ListResult> List(std::string_view prefix,
                                                        const ListOptions& options) const = 0;
  // kAlreadyExists if the key exists.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Create(std::string_view key, Encoder encode) = 0;
  // Create without holding the caller's thread: `done` runs once the write is durable (or
  // failed), on a store thread, and must not block. Backends without a commit thread run it
  // inline.
  virtual void CreateAsync(std::string_view key, Encoder encode,
                           std::function<void(absl::StatusOr<uint64_t>)> done) {
    done(Create(key, std::move(encode)));
  }
  // Compare-and-swap: kNotFound if absent, kAborted unless the key's revision == expected.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Update(std::string_view key, Encoder encode,
                                                        uint64_t expected) = 0;
  // `final_state` encodes the object as the DELETED event carries it.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Delete(std::string_view key, Encoder final_state,
                                                        std::optional<uint64_t> expected) = 0;

  virtual uint64_t CurrentRevision() const = 0;
  // Events are retained for revisions > CompactedRevision().
  virtual uint64_t CompactedRevision() const = 0;

  // Events with revision > after, oldest first, at most `limit` (0: all). kOutOfRange when
  // `after` < CompactedRevision().
  [[nodiscard]] virtual absl::StatusOr<std::vector<ChangeEvent>> ReadLog(uint64_t after,
                                                                         size_t limit) const = 0;

  // `sink` receives every event committed after this call, in order, on a store thread. It must
  // not block or call back into mutations of this store.
  [[nodiscard]] virtual std::unique_ptr<Subscription> Subscribe(
      std::function<void(const ChangeEvent&)> sink) = 0;

  // Drops change-log events the retention policy no longer keeps; returns the new compacted
  // revision. Backends also run it in the background.
  virtual absl::StatusOr<uint64_t> CompactNow() = 0;
};

}  // namespace berth::apiserver::storage
