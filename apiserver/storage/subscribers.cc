#include "apiserver/storage/subscribers.h"

#include <algorithm>

namespace berth::apiserver::storage {

class Subscribers::Handle : public Subscription {
 public:
  Handle(Subscribers* owner, uint64_t id) : owner_(owner), id_(id) {}
  ~Handle() override {
    absl::MutexLock lock(&owner_->mu_);
    auto& e = owner_->entries_;
    e.erase(std::remove_if(e.begin(), e.end(), [&](const Entry& x) { return x.id == id_; }),
            e.end());
  }

 private:
  Subscribers* owner_;
  uint64_t id_;
};

std::unique_ptr<Subscription> Subscribers::Add(std::function<void(const ChangeEvent&)> sink) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  entries_.push_back({id, std::move(sink)});
  return std::make_unique<Handle>(this, id);
}

void Subscribers::Publish(const ChangeEvent& event) {
  // Holding the lock while calling sinks is what makes "no call after the handle dies" true;
  // sinks only enqueue.
  absl::MutexLock lock(&mu_);
  for (const Entry& e : entries_) e.sink(event);
}

}  // namespace berth::apiserver::storage
