#pragma once
// File: apiserver/watch/watch_cache.h
// Fans the store's change feed out to watchers from an in-memory window of recent events.
//
// Contract: a watch registered from revision R receives every matching change with revision > R
// exactly once, in revision order. Events older than the window are replayed from the store's
// change log (one read at watch start, never per event); a revision the store has compacted is
// refused with kOutOfRange (410 Expired). One dispatcher thread does all delivery, so a watcher
// never sees N+1 before N. A watcher whose sink reports more than `max_backlog_bytes` unsent is
// closed: it relists instead of slowing writers or growing memory.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "apiserver/storage/store.h"
#include "core/json/value.h"
#include "core/selector/field_selector.h"
#include "core/selector/label_selector.h"
#include "core/time/clock.h"

namespace berth::apiserver::watch {

enum class EventType { kAdded, kModified, kDeleted };
const char* EventTypeName(EventType t);

// Where a watcher's events go (the HTTP layer formats them: JSON lines, Table rows, SSE).
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // `object_json` is the stored object; `object` its parsed form, non-null when the filter had
  // to parse it anyway. Returns false when the sink can take no more (client gone).
  virtual bool Send(EventType type, const std::string& object_json, uint64_t revision) = 0;
  virtual bool SendBookmark(uint64_t revision) = 0;
  // An ERROR event then the end of the stream (e.g. 410 Expired during replay).
  virtual void Fail(const absl::Status& status) = 0;
  virtual void End() = 0;
  virtual size_t Backlog() const = 0;
  virtual bool Gone() const = 0;

  // Sinks whose bytes depend only on the event share one encoding of it: SharedEncoding names
  // it ("" for none), Encode makes the frame once per event, SendFrame sends it to each sink
  // (1,000 watchers of one resource cost one serialization per event, not 1,000).
  virtual std::string_view SharedEncoding() const { return {}; }
  virtual std::string Encode(EventType, const std::string&, uint64_t) const { return {}; }
  virtual bool SendFrame(const std::string&) { return false; }
};

struct WatchFilter {
  std::string key_prefix;  // resource (and namespace) prefix
  std::string exact_key;   // when watching one object (metadata.name selector)
  selector::LabelSelector labels;
  selector::FieldSelector fields;
  bool bookmarks = false;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct WatchCacheOptions {
  size_t window_events = 10000;
  size_t max_backlog_bytes = 4 << 20;
  std::chrono::milliseconds bookmark_interval{5000};
  std::chrono::milliseconds tick{250};  // how often deadlines and dead sinks are checked
};

class WatchCache {
 public:
  WatchCache(storage::Store& store, const Clock& clock, WatchCacheOptions options = {});
  ~WatchCache();  // ends every watcher

  // Starts delivering changes after `from` to `sink`. kOutOfRange if the store has compacted
  // past `from`.
  absl::Status Watch(uint64_t from, WatchFilter filter, std::shared_ptr<WatchSink> sink);

  // Ends all watchers (their streams close cleanly); used at shutdown before the listener.
  void Shutdown();

  size_t watcher_count() const;
  // Called after each event is handed to a watcher's stream with the time since the store
  // published it (commit -> delivery), on the dispatcher thread.
  void SetDeliveryObserver(std::function<void(double seconds)> observer);
  uint64_t latest_revision() const;

 private:
  struct Event {
    storage::ChangeEvent::Type type;
    std::string key;
    std::string value;
    std::string prev;
    uint64_t revision;
    std::chrono::steady_clock::time_point committed{};  // zero for replayed events
  };
  struct Watcher;

  void OnChange(const storage::ChangeEvent& e);
  void DispatchLoop();
  // One event's frames, by encoding and event type (a selector turns MODIFIED into ADDED or
  // DELETED for some watchers).
  struct FrameCache {
    std::vector<std::tuple<std::string_view, EventType, std::string>> frames;
    const std::string& Get(const WatchSink& sink, EventType type, const Event& e);
  };
  void Deliver(Watcher& w, const Event& e, FrameCache* frames = nullptr);
  void ReplayAndGoLive(std::shared_ptr<Watcher> w, uint64_t from, uint64_t window_start,
                       std::vector<std::shared_ptr<const Event>> window);

  storage::Store& store_;
  const Clock& clock_;
  const WatchCacheOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const Event>> inbound_;       // guarded by mu_
  std::deque<std::shared_ptr<const Event>> window_;        // guarded by mu_
  std::vector<std::shared_ptr<Watcher>> watchers_;         // guarded by mu_
  uint64_t latest_ = 0;                                    // guarded by mu_
  bool stopping_ = false;                                  // guarded by mu_

  std::function<void(double)> delivery_observer_;  // set before watchers arrive
  std::unique_ptr<storage::Subscription> subscription_;
  std::thread dispatcher_;
};

}  // namespace berth::apiserver::watch
