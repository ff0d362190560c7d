#pragma once
// File: kubelet-like-agent/status/status_manager.h
// Sends pod statuses to the apiserver (the kubelet's status manager): the latest status per pod
// is kept until the apiserver acknowledges it; a failed send is retried with backoff (100 ms
// doubling to 5 s) for as long as it takes, and a newer status replaces the pending one — so
// every transition that matters (a terminated container's exit code, OOMKilled, which stay in
// containerStatuses / lastState) reaches the apiserver once it is back. An unchanged status is
// not sent again.
//
// Several senders run at once, because each PATCH waits for the apiserver's durable commit:
// one sender capped a burst of pod starts at one status per commit, while concurrent writes
// share the apiserver's group commits. Pods go oldest change first, and a pod has at most one
// PATCH in flight, so its statuses land in the order they were set.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/client/api_client.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::agent {

class StatusManager {
 public:
  static constexpr int kDefaultSenders = 4;
  StatusManager(client::ApiClient& api, const Clock& clock = RealClock::Get(), int senders = kDefaultSenders);
  ~StatusManager();
  void Start();
  void Stop();

  void Set(const std::string& ns, const std::string& name, const std::string& uid, json::Value status);
  void Forget(const std::string& uid);
  // True when nothing is waiting to be sent (tests, drain).
  bool Idle() const;
  // The last status acknowledged by the apiserver for `uid` (null if none).
  json::Value Acknowledged(const std::string& uid) const;

 private:
  struct Entry {
    std::string ns, name;
    json::Value status;
    json::Value acknowledged;
    bool dirty = false;
    bool in_flight = false;
    uint64_t changed = 0;  // when it last became dirty (a sequence): oldest is sent first
    absl::Time retry_at = absl::InfinitePast();
    absl::Duration backoff = absl::Milliseconds(100);
  };
  void Run();
  // The dirty pod to send next (oldest change first), or "" with `next_retry` set to the
  // earliest backoff that ends. Needs mu_.
  std::string NextLocked(absl::Time now, absl::Time& next_retry) const;

  client::ApiClient& api_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // by pod uid
  uint64_t next_change_ = 0;
  bool stopping_ = false;
  const int senders_;
  std::vector<std::thread> threads_;
};

}  // namespace berth::agent
