#pragma once
// File: controllers/runtime/event_recorder.h
// Records v1 Events about objects, as Kubernetes components do (`kubectl describe` and
// `kubectl get events` show them). Recording never blocks a reconcile: events queue to one
// sender thread (bounded; the oldest are dropped under pressure), and repeats of the same
// (object, reason, message) increment `count` on the existing Event instead of creating more.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/client/api_client.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::controllers {

class EventRecorder {
 public:
  EventRecorder(client::ApiClient& api, std::string component, const Clock& clock = RealClock::Get(),
                size_t max_queue = 1000);
  ~EventRecorder();

  // `type` is "Normal" or "Warning".
  void Record(const json::Value& object, const std::string& type, const std::string& reason,
              const std::string& message);
  // Waits until everything queued so far was sent (tests).
  void Flush();

 private:
  struct Pending {
    json::Value object_ref;
    std::string ns, type, reason, message;
    absl::Time at;
  };
  void Run();
  void Send(const Pending& p);

  client::ApiClient& api_;
  const std::string component_;
  const Clock& clock_;
  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
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
