#include "kubelet-like-agent/status/status_manager.h"

#include <algorithm>

#include "core/log/log.h"

namespace berth::agent {

StatusManager::StatusManager(client::ApiClient& api, const Clock& clock, int senders)
    : api_(api), clock_(clock), senders_(std::max(1, senders)) {}

StatusManager::~StatusManager() { Stop(); }

void StatusManager::Start() {
  for (int i = 0; i < senders_; ++i) threads_.emplace_back([this] { Run(); });
}

void StatusManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void StatusManager::Set(const std::string& ns, const std::string& name, const std::string& uid, json::Value status) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[uid];
  e.ns = ns;
  e.name = name;
  if (!e.dirty && e.acknowledged == status) return;
  if (e.dirty && e.status == status) return;
  e.status = std::move(status);
  if (!e.dirty) {
    e.dirty = true;
    e.changed = next_change_++;
    e.retry_at = absl::InfinitePast();
  }
  cv_.notify_one();
}

void StatusManager::Forget(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(uid);
}

bool StatusManager::Idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [uid, e] : entries_) {
    if (e.dirty) return false;
  }
  return true;
}

json::Value StatusManager::Acknowledged(const std::string& uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(uid);
  return it == entries_.end() ? json::Value() : it->second.acknowledged;
}

std::string StatusManager::NextLocked(absl::Time now, absl::Time& next_retry) const {
  const std::string* best = nullptr;
  uint64_t best_changed = 0;
  for (const auto& [id, e] : entries_) {
    if (!e.dirty || e.in_flight) continue;
    if (e.retry_at > now) {
      next_retry = std::min(next_retry, e.retry_at);
      continue;
    }
    if (best == nullptr || e.changed < best_changed) {
      best = &id;
      best_changed = e.changed;
    }
  }
  return best == nullptr ? "" : *best;
}

void StatusManager::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    absl::Time now = clock_.Now();
    absl::Time next_retry = absl::InfiniteFuture();
    std::string uid = NextLocked(now, next_retry);
    if (uid.empty()) {
      if (next_retry == absl::InfiniteFuture()) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, absl::ToChronoNanoseconds(std::max(absl::Milliseconds(1), next_retry - now)));
      }
      continue;
    }
    Entry& e = entries_[uid];
    e.in_flight = true;
    std::string ns = e.ns, name = e.name;
    json::Value status = e.status;
    lock.unlock();
    json::Value patch = json::Value::MakeObject();
    patch.Set("status", status);
    auto r = api_.Patch(client::resources::kPods, ns, name, patch, "application/merge-patch+json", "status");
    lock.lock();
    auto it = entries_.find(uid);
    if (it == entries_.end()) continue;  // forgotten meanwhile
    Entry& after = it->second;
    after.in_flight = false;
    if (r.ok() || r.status().code() == absl::StatusCode::kNotFound) {
      after.acknowledged = status;
      after.backoff = absl::Milliseconds(100);
      if (after.status == status) {
        after.dirty = false;
      } else {
        cv_.notify_one();  // a newer one waits: the next free sender takes it
      }
    } else {
      BERTH_LOG(Warning, "agent.status", "Status update failed; will retry", "pod", ns + "/" + name, "error",
                r.status().ToString(), "retry_in", absl::FormatDuration(after.backoff));
      after.retry_at = clock_.Now() + after.backoff;
      after.backoff = std::min(after.backoff * 2, absl::Seconds(5));
      cv_.notify_one();  // a sender waiting without a deadline learns of this retry
    }
  }
}

}  // namespace berth::agent
