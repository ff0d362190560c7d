#include "apiserver/storage/memory/memory_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/strings/strings.h"

namespace berth::apiserver::storage {

MemoryStore::MemoryStore(const Clock& clock, RetentionPolicy retention)
    : clock_(clock), retention_(retention), snapshots_(std::chrono::seconds(120), 64) {}

absl::StatusOr<KeyValue> MemoryStore::Get(std::string_view key) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return absl::NotFoundError(StrCat("key ", key, " not found"));
  return it->second;
}

absl::StatusOr<ListResult> MemoryStore::List(std::string_view prefix,
                                             const ListOptions& options) const {
  std::shared_ptr<const Map> snapshot;
  ListResult result;
  if (options.at_revision != 0) {
    auto snap = snapshots_.Get(options.at_revision, clock_.MonotonicNow());
    if (!snap.has_value()) {
      return absl::OutOfRangeError(
          StrCat("the snapshot at revision ", options.at_revision, " has expired"));
    }
    snapshot = *snap;
    result.revision = options.at_revision;
  }
  absl::MutexLock lock(&mu_);
  const Map& m = snapshot ? *snapshot : objects_;
  if (!snapshot) result.revision = revision_;
  auto it = options.start_after.empty() ? m.lower_bound(prefix) : m.upper_bound(options.start_after);
  for (; it != m.end() && it->first.starts_with(prefix); ++it) {
    if (options.limit != 0 && result.items.size() == options.limit) {
      result.more = true;
      break;
    }
    result.items.push_back(it->second);
  }
  if ((result.more || options.keep_snapshot) && !snapshot) {
    // Copying is the price of consistent pages in a store without MVCC; paged lists are rare
    // on the memory backend.
    snapshots_.Put(result.revision, std::make_shared<const Map>(objects_), clock_.MonotonicNow());
  }
  return result;
}

uint64_t MemoryStore::Commit(ChangeEvent event) {
  log_.push_back({event, clock_.Now()});
  subscribers_.Publish(log_.back().event);
  return event.revision;
}

absl::StatusOr<uint64_t> MemoryStore::Create(std::string_view key, Encoder encode) {
  absl::MutexLock lock(&mu_);
  if (objects_.find(key) != objects_.end()) {
    return absl::AlreadyExistsError(StrCat("key ", key, " exists"));
  }
  uint64_t rev = revision_ + 1;
  std::string value = encode(rev);
  revision_ = rev;
  objects_[std::string(key)] = {std::string(key), value, rev};
  return Commit({ChangeEvent::Type::kAdded, std::string(key), std::move(value), "", rev});
}

absl::StatusOr<uint64_t> MemoryStore::Update(std::string_view key, Encoder encode,
                                             uint64_t expected) {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return absl::NotFoundError(StrCat("key ", key, " not found"));
  if (it->second.revision != expected) {
    return absl::AbortedError(StrCat("key ", key, " is at revision ", it->second.revision,
                                           ", not ", expected));
  }
  uint64_t rev = revision_ + 1;
  std::string value = encode(rev);
  revision_ = rev;
  std::string prev = std::move(it->second.value);
  it->second.value = value;
  it->second.revision = rev;
  return Commit({ChangeEvent::Type::kModified, std::string(key), std::move(value), std::move(prev), rev});
}

absl::StatusOr<uint64_t> MemoryStore::Delete(std::string_view key, Encoder final_state,
                                             std::optional<uint64_t> expected) {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return absl::NotFoundError(StrCat("key ", key, " not found"));
  if (expected.has_value() && it->second.revision != *expected) {
    return absl::AbortedError(StrCat("key ", key, " is at revision ", it->second.revision,
                                           ", not ", *expected));
  }
  uint64_t rev = revision_ + 1;
  std::string value = final_state(rev);
  revision_ = rev;
  std::string prev = std::move(it->second.value);
  objects_.erase(it);
  return Commit({ChangeEvent::Type::kDeleted, std::string(key), std::move(value), std::move(prev), rev});
}

uint64_t MemoryStore::CurrentRevision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

uint64_t MemoryStore::CompactedRevision() const {
  absl::MutexLock lock(&mu_);
  return compacted_;
}

absl::StatusOr<std::vector<ChangeEvent>> MemoryStore::ReadLog(uint64_t after, size_t limit) const {
  absl::MutexLock lock(&mu_);
  if (after < compacted_) {
    return absl::OutOfRangeError(
        StrCat("too old resource version: ", after, " (", compacted_, ")"));
  }
  std::vector<ChangeEvent> out;
  // Log entries are dense: revision r sits at index r - compacted_ - 1.
  for (size_t i = after - compacted_; i < log_.size(); ++i) {
    if (limit != 0 && out.size() == limit) break;
    out.push_back(log_[i].event);
  }
  return out;
}

std::unique_ptr<Subscription> MemoryStore::Subscribe(std::function<void(const ChangeEvent&)> sink) {
  return subscribers_.Add(std::move(sink));
}

absl::StatusOr<uint64_t> MemoryStore::CompactNow() {
  absl::MutexLock lock(&mu_);
  absl::Time cutoff = clock_.Now() - retention_.min_age;
  while (!log_.empty()) {
    const LogEntry& e = log_.front();
    bool among_newest = revision_ - e.event.revision < retention_.min_events;
    if (among_newest || e.at >= cutoff) break;
    compacted_ = e.event.revision;
    log_.pop_front();
  }
  return compacted_;
}

}  // namespace berth::apiserver::storage
