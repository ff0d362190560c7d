#pragma once
// File: controllers/runtime/informer.h
// List, then watch from the list's revision; resume from the last seen revision when a watch
// ends or drops; relist when the server answers 410. Keeps an in-memory cache with indexes
// (namespace, label, owner uid, spec.nodeName by default) and calls handlers for changes.
//
// Cached objects are shared and immutable: copy before changing. Handlers run on the informer
// thread and should only enqueue keys.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/client/api_client.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::controllers {

using ObjectPtr = std::shared_ptr<const json::Value>;

struct EventHandlers {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

class Informer {
 public:
  Informer(client::ApiClient& api, client::Resource resource, std::string ns = "",
           client::ListOptions selectors = {}, const Clock& clock = RealClock::Get());

  // How long one watch request may last before the informer re-watches (server-side
  // timeoutSeconds). Before Start.
  void SetWatchTimeout(int seconds) { watch_timeout_seconds_ = seconds; }
  // How many times the informer has listed (1 after the first sync; more after 410s).
  int lists() const { return lists_.load(); }
  // Waits until the informer has listed at least `n` times.
  bool WaitForLists(int n, absl::Duration timeout);
  ~Informer();

  // Before Start, normally; a handler added later sees only the changes after it. The objects
  // the handlers capture must outlive the informer's thread (Stop first).
  void AddHandlers(EventHandlers handlers);
  void AddIndex(const std::string& name, std::function<std::vector<std::string>(const json::Value&)> fn);

  void Start();
  void Stop();
  // True once the first list is in the cache.
  bool WaitForSync(absl::Duration timeout);

  ObjectPtr Get(const std::string& key) const;  // "ns/name" or "name"
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> ByIndex(const std::string& index, const std::string& value) const;
  std::string last_resource_version() const;

  static std::string KeyOf(const json::Value& object);

 private:
  void Run();
  absl::Status ListAndReplace();
  void Apply(const std::string& type, json::Value object);
  std::vector<EventHandlers> Handlers() const;
  void IndexLocked(const std::string& key, const json::Value* old_obj, const json::Value* new_obj);

  client::ApiClient& api_;
  const client::Resource resource_;
  const std::string ns_;
  const client::ListOptions selectors_;
  const Clock& clock_;
  mutable std::mutex handlers_mu_;
  std::vector<EventHandlers> handlers_;
  std::map<std::string, std::function<std::vector<std::string>(const json::Value&)>> index_fns_;

  mutable std::mutex mu_;
  std::condition_variable synced_cv_;
  bool synced_ = false;
  std::map<std::string, ObjectPtr> cache_;
  std::map<std::string, std::map<std::string, std::set<std::string>>> indexes_;  // index -> value -> keys
  std::string resource_version_;

  int watch_timeout_seconds_ = 300;
  std::atomic<int> lists_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace berth::controllers
