#include "controllers/builtin/gc/garbage_collector.h"

#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

bool HasFinalizer(const json::Value& obj, const std::string& f) {
  const json::Value* fs = obj.Get({"metadata", "finalizers"});
  if (fs == nullptr || !fs->is_array()) return false;
  for (const json::Value& x : fs->as_array()) {
    if (x.is_string() && x.as_string() == f) return true;
  }
  return false;
}

std::string KindKey(const std::string& group, const std::string& plural) {
  return group.empty() ? plural : plural + "." + group;
}

std::string KeyFor(const client::Resource& r, const json::Value& obj) {
  return KindKey(r.group, r.plural) + "|" + Informer::KeyOf(obj);
}

}  // namespace

GarbageCollector::GarbageCollector(client::ApiClient& api, std::vector<WatchedKind> kinds, const Clock& clock,
                                   int workers)
    : api_(api), controller_("garbage-collector", *this, clock, workers) {
  for (WatchedKind& k : kinds) {
    AddHandlers(k);
    kinds_.push_back(std::make_shared<const WatchedKind>(std::move(k)));
  }
}

void GarbageCollector::AddHandlers(const WatchedKind& k) {
  const client::Resource r = k.resource;
  auto examine = [this, r](const ObjectPtr& o) {
    const json::Value* refs = o->Get({"metadata", "ownerReferences"});
    bool pending = o->Get({"metadata", "deletionTimestamp"}) &&
                   (HasFinalizer(*o, "foregroundDeletion") || HasFinalizer(*o, "orphan"));
    if ((refs && refs->size() > 0) || pending) controller_.Enqueue(KeyFor(r, *o));
  };
  k.informer->AddHandlers({examine, [examine](const ObjectPtr&, const ObjectPtr& o) { examine(o); },
                           [this](const ObjectPtr& o) { EnqueueDependents(*o); }});
}

void GarbageCollector::AddKind(WatchedKind kind) {
  if (Watches(kind.resource.group, kind.resource.plural)) return;
  AddHandlers(kind);
  Informer* informer = kind.informer;
  std::string name = kind.resource.kind;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kinds_.push_back(std::make_shared<const WatchedKind>(std::move(kind)));
  }
  informer->Start();
  BERTH_LOG(Info, "controllers.gc", "Watching a custom kind", "kind", name);
}

void GarbageCollector::RemoveKind(const std::string& group, const std::string& plural) {
  KindPtr removed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = kinds_.begin(); it != kinds_.end(); ++it) {
      if ((*it)->resource.group == group && (*it)->resource.plural == plural) {
        removed = *it;
        kinds_.erase(it);
        break;
      }
    }
  }
  if (removed) removed->informer->Stop();
}

bool GarbageCollector::Watches(const std::string& group, const std::string& plural) const {
  return ByKey(KindKey(group, plural)) != nullptr;
}

std::vector<GarbageCollector::KindPtr> GarbageCollector::Kinds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kinds_;
}

GarbageCollector::KindPtr GarbageCollector::ByKey(const std::string& kind_key) const {
  for (const KindPtr& k : Kinds()) {
    if (KindKey(k->resource.group, k->resource.plural) == kind_key) return k;
  }
  return nullptr;
}

GarbageCollector::KindPtr GarbageCollector::ByKind(const std::string& api_version, const std::string& kind) const {
  for (const KindPtr& k : Kinds()) {
    if (k->resource.kind == kind && k->resource.ApiVersion() == api_version) return k;
  }
  return nullptr;
}

std::vector<std::pair<GarbageCollector::KindPtr, ObjectPtr>> GarbageCollector::Dependents(const std::string& uid) const {
  std::vector<std::pair<KindPtr, ObjectPtr>> out;
  for (const KindPtr& k : Kinds()) {
    for (const ObjectPtr& o : k->informer->ByIndex("owner", uid)) out.emplace_back(k, o);
  }
  return out;
}

void GarbageCollector::EnqueueDependents(const json::Value& owner) {
  for (const auto& [kind, dep] : Dependents(owner.GetString({"metadata", "uid"}))) {
    controller_.Enqueue(KeyFor(kind->resource, *dep));
  }
}

absl::StatusOr<bool> GarbageCollector::OwnerExists(const json::Value& ref, const std::string& ns) {
  KindPtr kind = ByKind(ref.GetString({"apiVersion"}), ref.GetString({"kind"}));
  if (kind == nullptr) return true;  // a kind we do not watch: never collect on its account
  std::string owner_ns = kind->resource.namespaced ? ns : "";
  std::string key = owner_ns.empty() ? ref.GetString({"name"}) : owner_ns + "/" + ref.GetString({"name"});
  ObjectPtr cached = kind->informer->Get(key);
  if (cached && cached->GetString({"metadata", "uid"}) == ref.GetString({"uid"})) return true;
  // The cache may lag behind a fresh owner: ask the server before deleting anything.
  auto live = api_.Get(kind->resource, owner_ns, ref.GetString({"name"}));
  if (!live.ok()) {
    if (live.status().code() == absl::StatusCode::kNotFound) return false;
    return live.status();
  }
  return live->GetString({"metadata", "uid"}) == ref.GetString({"uid"});
}

absl::Status GarbageCollector::RemoveFinalizer(const WatchedKind& kind, const json::Value& obj, const std::string& finalizer) {
  json::Value next = obj;
  json::Value kept = json::Value::MakeArray();
  for (const json::Value& f : next.Get({"metadata", "finalizers"})->as_array()) {
    if (!(f.is_string() && f.as_string() == finalizer)) kept.as_array().push_back(f);
  }
  next["metadata"].Set("finalizers", std::move(kept));
  auto r = api_.Update(kind.resource, next);
  if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  return absl::OkStatus();
}

absl::StatusOr<Result> GarbageCollector::Reconcile(const Request& request, std::stop_token) {
  std::string key = request.Key();
  size_t bar = key.find('|');
  if (bar == std::string::npos) return Result{};
  KindPtr kind = ByKey(key.substr(0, bar));
  if (kind == nullptr) return Result{};
  ObjectPtr obj = kind->informer->Get(key.substr(bar + 1));
  if (obj == nullptr) return Result{};
  const std::string uid = obj->GetString({"metadata", "uid"});
  const std::string ns = obj->GetString({"metadata", "namespace"});

  if (obj->Get({"metadata", "deletionTimestamp"})) {
    if (HasFinalizer(*obj, "orphan")) {
      for (const auto& [dk, dep] : Dependents(uid)) {
        json::Value refs = json::Value::MakeArray();
        for (const json::Value& r : dep->Get({"metadata", "ownerReferences"})->as_array()) {
          if (r.GetString({"uid"}) != uid) refs.as_array().push_back(r);
        }
        json::Value patch = json::Value::MakeObject();
        patch.Ensure({"metadata"}).Set("ownerReferences", std::move(refs));
        auto r = api_.Patch(dk->resource, dep->GetString({"metadata", "namespace"}), dep->GetString({"metadata", "name"}), patch);
        if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
      }
      absl::Status s = RemoveFinalizer(*kind, *obj, "orphan");
      if (!s.ok()) return s;
      return Result{};
    }
    if (HasFinalizer(*obj, "foregroundDeletion")) {
      auto deps = Dependents(uid);
      for (const auto& [dk, dep] : deps) {
        if (dep->Get({"metadata", "deletionTimestamp"})) continue;
        json::Value opts = json::Value::MakeObject();
        opts.Set("propagationPolicy", "Foreground");
        opts.Ensure({"preconditions"}).Set("uid", dep->GetString({"metadata", "uid"}));
        absl::Status s = api_.Delete(dk->resource, dep->GetString({"metadata", "namespace"}), dep->GetString({"metadata", "name"}), opts);
        if (!s.ok() && s.code() != absl::StatusCode::kNotFound && s.code() != absl::StatusCode::kAborted) return s;
      }
      if (!deps.empty()) return Result{absl::Seconds(1)};  // the owner waits for its dependents
      absl::Status s = RemoveFinalizer(*kind, *obj, "foregroundDeletion");
      if (!s.ok()) return s;
      return Result{};
    }
  }

  const json::Value* refs = obj->Get({"metadata", "ownerReferences"});
  if (refs == nullptr || !refs->is_array() || refs->size() == 0) return Result{};
  bool any_alive = false;
  for (const json::Value& ref : refs->as_array()) {
    auto exists = OwnerExists(ref, ns);
    if (!exists.ok()) return exists.status();
    any_alive = any_alive || *exists;
  }
  if (any_alive) return Result{};
  json::Value opts = json::Value::MakeObject();
  opts.Set("propagationPolicy", "Background");
  opts.Ensure({"preconditions"}).Set("uid", uid);
  absl::Status s = api_.Delete(kind->resource, ns, obj->GetString({"metadata", "name"}), opts);
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound && s.code() != absl::StatusCode::kAborted) return s;
  BERTH_LOG(Info, "controllers.gc", "Deleted an object whose owners are gone", "kind", kind->resource.kind, "key",
            Informer::KeyOf(*obj));
  return Result{};
}

}  // namespace berth::controllers::builtin
