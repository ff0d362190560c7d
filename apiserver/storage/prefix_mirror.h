#pragma once
// File: apiserver/storage/prefix_mirror.h
// The objects under a few key prefixes, kept in memory in step with a store's change feed:
// admission reads small kinds (Namespaces, LimitRanges, ResourceQuotas, ServiceAccounts,
// PriorityClasses) on every pod create, and a store List of an empty range still costs a
// snapshot, an iterator and a seek through every memtable and level (17% of the apiserver's
// CPU during c=64 creates). Readers only ever see a mirror Start has filled.
//
// Consistency: a store publishes each event before it acknowledges the write, so a read
// reflects every write acknowledged before the read began, as a store read would. Objects
// only: the mirror does not name a revision, so it serves callers that need the objects
// (admission, reads by name), not a list a watch continues from.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "apiserver/storage/store.h"

namespace berth::apiserver::storage {

class PrefixMirror {
 public:
  // Subscribes, then lists each prefix once. Fails only if a list fails.
  static absl::StatusOr<std::unique_ptr<PrefixMirror>> Start(Store& store, std::vector<std::string> prefixes);
  ~PrefixMirror();  // unsubscribes first

  // The values of the keys that start with `prefix`, in key order; nullopt when `prefix` is not
  // inside a mirrored prefix (the caller reads the store).
  std::optional<std::vector<std::string>> List(std::string_view prefix) const;
  // Whether any key starts with `prefix`, without copying a value; nullopt as for List.
  std::optional<bool> HasAny(std::string_view prefix) const;
  // Whether `key` is inside a mirrored prefix; then Get answers for it (nullopt: no such key).
  bool Covers(std::string_view key) const { return RangeOf(key) != nullptr; }
  std::optional<std::string> Get(std::string_view key) const;

 private:
  struct Range {
    std::string prefix;
    uint64_t listed_at = 0;  // events at or below it are in the initial list
  };
  explicit PrefixMirror(std::vector<std::string> prefixes);
  void Apply(const ChangeEvent& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Range* RangeOf(std::string_view key) const;

  std::vector<Range> ranges_;  // fixed after Start
  mutable absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;  // the lists are in: events apply directly
  std::vector<ChangeEvent> early_ ABSL_GUARDED_BY(mu_);  // published while the lists ran
  std::map<std::string, std::string, std::less<>> objects_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Subscription> subscription_;
};

}  // namespace berth::apiserver::storage
