#include "controllers/runtime/event_recorder.h"

#include <algorithm>
#include <chrono>

#include "core/strings/strings.h"

namespace berth::controllers {

EventRecorder::EventRecorder(client::ApiClient& api, std::string component, const Clock& clock, size_t max_queue)
    : api_(api), component_(std::move(component)), clock_(clock), max_queue_(max_queue) {
  thread_ = std::thread([this] { Run(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EventRecorder::Record(const json::Value& object, const std::string& type, const std::string& reason,
                           const std::string& message, const std::string& component) {
  Pending p;
  json::Value ref = json::Value::MakeObject();
  ref.Set("kind", object.GetString({"kind"}));
  ref.Set("apiVersion", object.GetString({"apiVersion"}));
  ref.Set("name", object.GetString({"metadata", "name"}));
  std::string ns = object.GetString({"metadata", "namespace"});
  if (!ns.empty()) ref.Set("namespace", ns);
  ref.Set("uid", object.GetString({"metadata", "uid"}));
  ref.Set("resourceVersion", object.GetString({"metadata", "resourceVersion"}));
  p.object_ref = std::move(ref);
  p.ns = ns.empty() ? "default" : ns;
  p.type = type;
  p.reason = reason;
  p.message = message;
  p.component = component.empty() ? component_ : component;
  p.at = clock_.Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!TakeTokenLocked(p.object_ref.GetString({"uid"}))) {
      dropped_++;
      return;
    }
    if (queue_.size() >= max_queue_) queue_.pop_front();
    queue_.push_back(std::move(p));
  }
  cv_.notify_one();
}

bool EventRecorder::TakeTokenLocked(const std::string& object_uid) {
  // client-go's EventSourceObjectSpamFilter: a bucket per object, 25 events at once, then one
  // more every 5 minutes. A container failing every 2 s does not flood the apiserver.
  constexpr double kBurst = 25;
  constexpr double kRefillPerSecond = 1.0 / 300;
  auto now = clock_.MonotonicNow();
  if (buckets_.size() > 10000) buckets_.clear();  // bounded memory; a reset only forgives
  auto [it, inserted] = buckets_.try_emplace(object_uid, Bucket{kBurst, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(kBurst, b.tokens + elapsed * kRefillPerSecond);
    b.last = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void EventRecorder::SetSendRate(double qps, int burst) {
  std::lock_guard<std::mutex> lock(mu_);
  send_qps_ = qps;
  send_burst_ = burst;
  send_tokens_ = burst;
  send_last_ = clock_.MonotonicNow();
}

absl::Duration EventRecorder::SendDelayLocked() {
  if (send_qps_ <= 0) return absl::ZeroDuration();
  auto now = clock_.MonotonicNow();
  double elapsed = std::chrono::duration<double>(now - send_last_).count();
  send_last_ = now;
  send_tokens_ = std::min<double>(send_burst_, send_tokens_ + elapsed * send_qps_);
  if (send_tokens_ >= 1) {
    send_tokens_ -= 1;
    return absl::ZeroDuration();
  }
  return absl::Seconds((1 - send_tokens_) / send_qps_);
}

void EventRecorder::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && in_flight_ == 0; });
}

void EventRecorder::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;
    if (absl::Duration wait = SendDelayLocked(); wait > absl::ZeroDuration() && !stop_) {
      // Over the send rate: wait outside the lock (Record never blocks), then look again.
      lock.unlock();
      clock_.SleepFor(wait);
      lock.lock();
      continue;
    }
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    in_flight_++;
    lock.unlock();
    Send(p);
    lock.lock();
    in_flight_--;
    cv_.notify_all();
  }
}

void EventRecorder::Send(const Pending& p) {
  std::string key = StrCat(p.object_ref.GetString({"uid"}), "|", p.component, "|", p.reason, "|", p.message);
  std::string now = FormatRfc3339(p.at);
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    json::Value patch = json::Value::MakeObject();
    patch.Set("count", it->second.count + 1);
    patch.Set("lastTimestamp", now);
    if (api_.Patch(client::resources::kEvents, p.ns, it->second.name, patch).ok()) {
      it->second.count++;
      return;
    }
  }
  json::Value ev = json::Value::MakeObject();
  ev.Set("apiVersion", "v1");
  ev.Set("kind", "Event");
  std::string name = StrCat(p.object_ref.GetString({"name"}), ".", absl::StrCat(absl::Hex(absl::ToUnixNanos(p.at))));
  ev.Ensure({"metadata"}).Set("name", name);
  ev["metadata"].Set("namespace", p.ns);
  ev.Set("involvedObject", p.object_ref);
  ev.Set("reason", p.reason);
  ev.Set("message", p.message);
  ev.Set("type", p.type);
  json::Value source = json::Value::MakeObject();
  source.Set("component", p.component);
  ev.Set("source", std::move(source));
  ev.Set("firstTimestamp", now);
  ev.Set("lastTimestamp", now);
  ev.Set("count", 1);
  ev.Set("reportingComponent", p.component);
  ev.Set("reportingInstance", p.component);
  if (api_.Create(client::resources::kEvents, p.ns, ev).ok()) seen_[key] = {name, 1};
  if (seen_.size() > 4096) seen_.erase(seen_.begin());
}

}  // namespace berth::controllers
