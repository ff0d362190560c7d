#pragma once
// File: apiserver/storage/subscribers.h
// The set of change-feed sinks a store publishes to, shared by the backends.

#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "apiserver/storage/store.h"

namespace berth::apiserver::storage {

class Subscribers {
 public:
  std::unique_ptr<Subscription> Add(std::function<void(const ChangeEvent&)> sink);
  // Calls every sink in subscription order. Callers publish from one thread at a time.
  void Publish(const ChangeEvent& event);

 private:
  struct Entry {
    uint64_t id;
    std::function<void(const ChangeEvent&)> sink;
  };
  class Handle;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::apiserver::storage
