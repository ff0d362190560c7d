#pragma once
// File: controllers/runtime/event_recorder.h
// Records v1 Events about objects, as Kubernetes components do (`kubectl describe` and
// `kubectl get events` show them). Recording never blocks a reconcile: events queue to one
// sender thread (bounded; the oldest are dropped under pressure), and repeats of the same
// (object, reason, message) increment `count` on the existing Event instead of creating more.
// Like client-go's recorder, each object may have 25 events at once and one more every 5
// minutes after that; the rest are dropped (and counted).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "core/client/api_client.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::controllers {

class EventRecorder {
 public:
  EventRecorder(client::ApiClient& api, std::string component, const Clock& clock = RealClock::Get(),
                size_t max_queue = 1000);
  ~EventRecorder();

  // `type` is "Normal" or "Warning". `component` names the reporter when it is not the
  // recorder's own (a scheduler profile reports as its schedulerName, as upstream's do).
  void Record(const json::Value& object, const std::string& type, const std::string& reason,
              const std::string& message, const std::string& component = "");
  // Spreads the sending over time, as the kubelet does (eventRecordQPS 50, eventBurst 100), so a
  // burst of starts does not compete with status updates for the apiserver. Unlimited when not set.
  void SetSendRate(double qps, int burst);
  // Waits until everything queued so far was sent (tests).
  void Flush();
  // Events dropped by the per-object rate limit.
  uint64_t dropped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dropped_;
  }

 private:
  struct Pending {
    json::Value object_ref;
    std::string ns, type, reason, message, component;
    absl::Time at;
  };
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  void Run();
  void Send(const Pending& p);
  bool TakeTokenLocked(const std::string& object_uid);
  // How long the sender must wait before the next send (zero: send now, token taken).
  absl::Duration SendDelayLocked();

  client::ApiClient& api_;
  const std::string component_;
  const Clock& clock_;
  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  absl::flat_hash_map<std::string, Bucket> buckets_;  // by object uid (one lookup per event)
  uint64_t dropped_ = 0;
  double send_qps_ = 0;
  int send_burst_ = 0;
  double send_tokens_ = 0;
  std::chrono::steady_clock::time_point send_last_;
  std::deque<Pending> queue_;
  size_t in_flight_ = 0;
  bool stop_ = false;
  struct Seen {
    std::string name;
    int64_t count;
  };
  std::map<std::string, Seen> seen_;  // sender thread only
  std::thread thread_;
};

}  // namespace berth::controllers
