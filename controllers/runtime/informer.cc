#include "controllers/runtime/informer.h"

#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers {

Informer::Informer(client::ApiClient& api, client::Resource resource, std::string ns,
                   client::ListOptions selectors, const Clock& clock)
    : api_(api), resource_(std::move(resource)), ns_(std::move(ns)), selectors_(std::move(selectors)), clock_(clock) {
  AddIndex("namespace", [](const json::Value& o) { return std::vector<std::string>{o.GetString({"metadata", "namespace"})}; });
  AddIndex("owner", [](const json::Value& o) {
    std::vector<std::string> out;
    if (const json::Value* refs = o.Get({"metadata", "ownerReferences"}); refs && refs->is_array()) {
      for (const json::Value& r : refs->as_array()) out.push_back(r.GetString({"uid"}));
    }
    return out;
  });
  AddIndex("nodeName", [](const json::Value& o) { return std::vector<std::string>{o.GetString({"spec", "nodeName"})}; });
}

Informer::~Informer() { Stop(); }

void Informer::AddHandlers(EventHandlers handlers) {
  std::lock_guard<std::mutex> lock(handlers_mu_);
  handlers_.push_back(std::move(handlers));
}

std::vector<EventHandlers> Informer::Handlers() const {
  std::lock_guard<std::mutex> lock(handlers_mu_);
  return handlers_;
}

void Informer::AddIndex(const std::string& name, std::function<std::vector<std::string>(const json::Value&)> fn) {
  index_fns_[name] = std::move(fn);
}

std::string Informer::KeyOf(const json::Value& object) {
  std::string ns = object.GetString({"metadata", "namespace"});
  std::string name = object.GetString({"metadata", "name"});
  return ns.empty() ? name : ns + "/" + name;
}

void Informer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  api_.CancelWatches();
  thread_.join();
}

bool Informer::WaitForSync(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return synced_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return synced_; });
}

bool Informer::WaitForLists(int n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return synced_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this, n] { return lists_.load() >= n; });
}

ObjectPtr Informer::Get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(cache_.size());
  for (const auto& [k, v] : cache_) out.push_back(v);
  return out;
}

std::vector<ObjectPtr> Informer::ByIndex(const std::string& index, const std::string& value) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ObjectPtr> out;
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return out;
  auto keys = idx->second.find(value);
  if (keys == idx->second.end()) return out;
  for (const std::string& k : keys->second) {
    if (auto it = cache_.find(k); it != cache_.end()) out.push_back(it->second);
  }
  return out;
}

std::string Informer::last_resource_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

void Informer::IndexLocked(const std::string& key, const json::Value* old_obj, const json::Value* new_obj) {
  for (const auto& [name, fn] : index_fns_) {
    auto& index = indexes_[name];
    if (old_obj) {
      for (const std::string& v : fn(*old_obj)) {
        index[v].erase(key);
        if (index[v].empty()) index.erase(v);
      }
    }
    if (new_obj) {
      for (const std::string& v : fn(*new_obj)) index[v].insert(key);
    }
  }
}

absl::Status Informer::ListAndReplace() {
  auto list = api_.List(resource_, ns_, selectors_);
  if (!list.ok()) return list.status();
  std::vector<std::pair<ObjectPtr, ObjectPtr>> updates;  // old, new (old null: add)
  std::vector<ObjectPtr> deletes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, ObjectPtr> fresh;
    for (json::Value& item : list->items) {
      auto obj = std::make_shared<const json::Value>(std::move(item));
      fresh[KeyOf(*obj)] = obj;
    }
    for (const auto& [key, old_obj] : cache_) {
      if (!fresh.count(key)) {
        deletes.push_back(old_obj);
        IndexLocked(key, old_obj.get(), nullptr);
      }
    }
    for (const auto& [key, obj] : fresh) {
      auto it = cache_.find(key);
      ObjectPtr old_obj = it == cache_.end() ? nullptr : it->second;
      IndexLocked(key, old_obj.get(), obj.get());
      updates.emplace_back(old_obj, obj);
    }
    cache_ = std::move(fresh);
    resource_version_ = list->resource_version;
  }
  for (const auto& h : Handlers()) {
    for (const auto& d : deletes) if (h.on_delete) h.on_delete(d);
    for (const auto& [o, n] : updates) {
      if (o == nullptr) {
        if (h.on_add) h.on_add(n);
      } else if (h.on_update) {
        h.on_update(o, n);
      }
    }
  }
  // Synced only once the handlers have seen the list (client-go's HasSynced for handlers): a
  // controller started on "synced" must not act on state its handlers have not built yet (the
  // scheduler overcommitted nodes whose pods it had not counted).
  {
    std::lock_guard<std::mutex> lock(mu_);
    synced_ = true;
    lists_++;
  }
  synced_cv_.notify_all();
  return absl::OkStatus();
}

void Informer::Apply(const std::string& type, json::Value object) {
  std::string rv = object.GetString({"metadata", "resourceVersion"});
  if (type == "BOOKMARK") {
    std::lock_guard<std::mutex> lock(mu_);
    resource_version_ = rv;
    return;
  }
  auto obj = std::make_shared<const json::Value>(std::move(object));
  std::string key = KeyOf(*obj);
  ObjectPtr old_obj;
  {
    std::lock_guard<std::mutex> lock(mu_);
    resource_version_ = rv;
    auto it = cache_.find(key);
    if (it != cache_.end()) old_obj = it->second;
    if (type == "DELETED") {
      IndexLocked(key, old_obj.get(), nullptr);
      cache_.erase(key);
    } else {
      IndexLocked(key, old_obj.get(), obj.get());
      cache_[key] = obj;
    }
  }
  for (const auto& h : Handlers()) {
    if (type == "DELETED") {
      if (h.on_delete) h.on_delete(obj);
    } else if (old_obj == nullptr) {
      if (h.on_add) h.on_add(obj);
    } else if (h.on_update) {
      h.on_update(old_obj, obj);
    }
  }
}

void Informer::Run() {
  bool need_list = true;
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_) {
    if (need_list) {
      absl::Status s = ListAndReplace();
      if (!s.ok()) {
        BERTH_LOG(Warning, "informer", "List failed", "resource", resource_.plural, "error", s.ToString());
        clock_.SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(5));
        continue;
      }
      need_list = false;
    }
    absl::Status s = api_.Watch(resource_, ns_, selectors_, last_resource_version(),
                                [this](const client::WatchEvent& e) {
                                  if (stop_.load()) return false;  // stopping: no handler runs any more
                                  Apply(e.type, e.object);
                                  return !stop_.load();
                                },
                                stop_, watch_timeout_seconds_);
    if (stop_) break;
    if (s.code() == absl::StatusCode::kOutOfRange) {
      need_list = true;  // 410: the revision is gone; relist
      continue;
    }
    if (!s.ok()) {
      BERTH_LOG(Warning, "informer", "Watch failed; resuming", "resource", resource_.plural, "error", s.ToString());
      clock_.SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
    } else {
      backoff = absl::Milliseconds(100);
    }
  }
}

}  // namespace berth::controllers
