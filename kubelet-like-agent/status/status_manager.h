#pragma once
// File: kubelet-like-agent/status/status_manager.h
// Sends pod statuses to the apiserver from one thread (the kubelet's status manager): the
// latest status per pod is kept until the apiserver acknowledges it; a failed send is retried
// with backoff (100 ms doubling to 5 s) for as long as it takes, and a newer status replaces
// the pending one — so every transition that matters (a terminated container's exit code,
// OOMKilled, which stay in containerStatuses / lastState) reaches the apiserver once it is back.
// An unchanged status is not sent again.

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/client/api_client.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::agent {

class StatusManager {
 public:
  StatusManager(client::ApiClient& api, const Clock& clock = RealClock::Get());
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
    absl::Time retry_at = absl::InfinitePast();
    absl::Duration backoff = absl::Milliseconds(100);
  };
  void Run();

  client::ApiClient& api_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // by pod uid
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::agent
