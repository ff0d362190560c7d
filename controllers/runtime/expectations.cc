#include "controllers/runtime/expectations.h"

namespace berth::controllers {

void Expectations::ExpectCreations(const std::string& key, int n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& p = pending_[key];
  p.adds += n;
  p.since = clock_.MonotonicNow();
}

void Expectations::ExpectDeletions(const std::string& key, int n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& p = pending_[key];
  p.dels += n;
  p.since = clock_.MonotonicNow();
}

void Expectations::CreationObserved(const std::string& key) { LowerCreations(key, 1); }
void Expectations::DeletionObserved(const std::string& key) { LowerDeletions(key, 1); }

void Expectations::LowerCreations(const std::string& key, int n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(key);
  if (it != pending_.end()) it->second.adds -= n;
}

void Expectations::LowerDeletions(const std::string& key, int n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(key);
  if (it != pending_.end()) it->second.dels -= n;
}

bool Expectations::Satisfied(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(key);
  if (it == pending_.end()) return true;
  if (it->second.adds <= 0 && it->second.dels <= 0) return true;
  return clock_.MonotonicNow() - it->second.since > ttl_;
}

void Expectations::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(key);
}

}  // namespace berth::controllers
