#include "apiserver/watch/watch_cache.h"

#include <algorithm>
#include <atomic>

#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/strings/strings.h"
#include "core/concurrency/thread_name.h"

namespace berth::apiserver::watch {

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded: return "ADDED";
    case EventType::kModified: return "MODIFIED";
    case EventType::kDeleted: return "DELETED";
  }
  return "ERROR";
}

struct WatchCache::Watcher {
  WatchFilter filter;
  std::shared_ptr<WatchSink> sink;
  uint64_t last_sent = 0;
  bool live = false;  // false while replaying: live events wait in `pending`
  std::vector<std::shared_ptr<const Event>> pending;
  std::atomic<bool> closed{false};  // also read by a replaying thread
  std::chrono::steady_clock::time_point last_bookmark;
};

WatchCache::WatchCache(storage::Store& store, const Clock& clock, WatchCacheOptions options)
    : store_(store), clock_(clock), options_(options) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    latest_ = store_.CurrentRevision();
  }
  subscription_ = store_.Subscribe([this](const storage::ChangeEvent& e) { OnChange(e); });
  dispatcher_ = std::thread([this] {
    NameThisThread("watch-dispatch");
    DispatchLoop();
  });
}

WatchCache::~WatchCache() {
  subscription_.reset();
  Shutdown();
  dispatcher_.join();
}

void WatchCache::Shutdown() {
  std::vector<std::shared_ptr<Watcher>> watchers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    watchers.swap(watchers_);
  }
  cv_.notify_all();
  for (auto& w : watchers) w->sink->End();
}

size_t WatchCache::watcher_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

void WatchCache::SetDeliveryObserver(std::function<void(double)> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  delivery_observer_ = std::move(observer);
}

uint64_t WatchCache::latest_revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

void WatchCache::OnChange(const storage::ChangeEvent& e) {
  // Runs on the store's commit thread: queue and return.
  auto ev = std::make_shared<const Event>(
      Event{e.type, e.key, e.value, e.prev_value, e.revision, clock_.MonotonicNow()});
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbound_.push_back(std::move(ev));
  }
  cv_.notify_one();
}

absl::Status WatchCache::Watch(uint64_t from, WatchFilter filter, std::shared_ptr<WatchSink> sink) {
  uint64_t compacted = store_.CompactedRevision();
  if (from < compacted) {
    return api::Expired(StrCat("too old resource version: ", from, " (", compacted, ")"));
  }
  auto w = std::make_shared<Watcher>();
  w->filter = std::move(filter);
  w->sink = std::move(sink);
  w->last_sent = from;
  w->last_bookmark = clock_.MonotonicNow();
  uint64_t window_start;
  std::vector<std::shared_ptr<const Event>> window;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    window_start = window_.empty() ? latest_ + 1 : window_.front()->revision;
    for (auto it = std::lower_bound(window_.begin(), window_.end(), from + 1,
                                    [](const auto& e, uint64_t r) { return e->revision < r; });
         it != window_.end(); ++it) {
      window.push_back(*it);
    }
    watchers_.push_back(w);
  }
  ReplayAndGoLive(std::move(w), from, window_start, std::move(window));
  return absl::OkStatus();
}

void WatchCache::ReplayAndGoLive(std::shared_ptr<Watcher> w, uint64_t from, uint64_t window_start,
                                 std::vector<std::shared_ptr<const Event>> window) {
  if (from + 1 < window_start) {
    // Older than the window: read the gap from the store's change log once.
    auto log = store_.ReadLog(from, window_start - from - 1);
    if (!log.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      w->closed = true;
      w->sink->Fail(log.status().code() == absl::StatusCode::kOutOfRange
                        ? api::Expired(Sv(log.status().message()))
                        : log.status());
      return;
    }
    for (const storage::ChangeEvent& e : *log) {
      if (e.revision >= window_start) break;
      Deliver(*w, Event{e.type, e.key, e.value, e.prev_value, e.revision});
    }
  }
  for (const auto& e : window) Deliver(*w, *e);
  // Go live: whatever the dispatcher queued meanwhile follows, under the lock so nothing
  // slips between.
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : w->pending) Deliver(*w, *e);
  w->pending.clear();
  w->live = true;
}

const std::string& WatchCache::FrameCache::Get(const WatchSink& sink, EventType type, const Event& e) {
  std::string_view encoding = sink.SharedEncoding();
  for (const auto& [enc, t, frame] : frames) {
    if (enc == encoding && t == type) return frame;
  }
  frames.emplace_back(encoding, type, sink.Encode(type, e.value, e.revision));
  return std::get<2>(frames.back());
}

void WatchCache::Deliver(Watcher& w, const Event& e, FrameCache* frames) {
  if (w.closed || e.revision <= w.last_sent) return;
  const WatchFilter& f = w.filter;
  if (!f.exact_key.empty() ? e.key != f.exact_key : e.key.rfind(f.key_prefix, 0) != 0) return;
  EventType type = e.type == storage::ChangeEvent::Type::kAdded      ? EventType::kAdded
                   : e.type == storage::ChangeEvent::Type::kModified ? EventType::kModified
                                                                     : EventType::kDeleted;
  bool needs_parse = !f.labels.empty() || !f.fields.empty();
  if (needs_parse) {
    auto matches = [&](const std::string& text) {
      if (text.empty()) return false;
      auto obj = json::ParseStored(text, 512);
      if (!obj.ok()) return false;
      const json::Value* labels = obj->Get({"metadata", "labels"});
      return f.labels.Matches(labels ? *labels : json::Value()) && f.fields.Matches(*obj);
    };
    bool now = matches(e.value);
    if (type == EventType::kModified) {
      bool before = e.prev.empty() ? now : matches(e.prev);
      if (before && !now) {
        type = EventType::kDeleted;  // it left the selection
      } else if (!before && now) {
        type = EventType::kAdded;  // it entered the selection
      } else if (!now) {
        w.last_sent = e.revision;
        return;
      }
    } else if (!now) {
      w.last_sent = e.revision;
      return;
    }
  }
  w.last_sent = e.revision;
  bool sent = frames != nullptr && !w.sink->SharedEncoding().empty()
                  ? w.sink->SendFrame(frames->Get(*w.sink, type, e))
                  : w.sink->Send(type, e.value, e.revision);
  if (!sent || w.sink->Backlog() > options_.max_backlog_bytes) {
    w.closed = true;
    w.sink->End();
    return;
  }
  if (delivery_observer_ && e.committed != std::chrono::steady_clock::time_point{}) {
    delivery_observer_(std::chrono::duration<double>(clock_.MonotonicNow() - e.committed).count());
  }
}

void WatchCache::DispatchLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait_for(lock, options_.tick, [this] { return stopping_ || !inbound_.empty(); });
    if (stopping_) return;
    while (!inbound_.empty()) {
      std::shared_ptr<const Event> e = std::move(inbound_.front());
      inbound_.pop_front();
      latest_ = e->revision;
      window_.push_back(e);
      while (window_.size() > options_.window_events) window_.pop_front();
      FrameCache frames;
      for (auto& w : watchers_) {
        if (w->live) {
          Deliver(*w, *e, &frames);
        } else {
          w->pending.push_back(e);
          if (w->pending.size() > options_.window_events) {
            w->closed = true;
            w->sink->End();
          }
        }
      }
    }
    auto now = clock_.MonotonicNow();
    for (auto& w : watchers_) {
      if (w->closed || !w->live) continue;
      if (w->sink->Gone()) {
        w->closed = true;
        continue;
      }
      if (now >= w->filter.deadline) {
        w->closed = true;
        w->sink->End();
        continue;
      }
      if (w->live && w->filter.bookmarks && now - w->last_bookmark >= options_.bookmark_interval) {
        w->last_bookmark = now;
        // A bookmark also tells a slow or silent stream apart from a dead client.
        if (!w->sink->SendBookmark(std::max(latest_, w->last_sent))) w->closed = true;
      }
    }
    watchers_.erase(std::remove_if(watchers_.begin(), watchers_.end(),
                                   [](const auto& w) { return w->closed.load(); }),
                    watchers_.end());
  }
}

}  // namespace berth::apiserver::watch
