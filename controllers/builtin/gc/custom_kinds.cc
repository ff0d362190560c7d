#include "controllers/builtin/gc/custom_kinds.h"

namespace berth::controllers::builtin {

const client::Resource kCustomResourceDefinitions{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
                                                  "CustomResourceDefinition"};

namespace {

bool Established(const json::Value& crd) {
  const json::Value* conditions = crd.Get({"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const json::Value& c : conditions->as_array()) {
    if (c.GetString({"type"}) == "Established" && c.GetString({"status"}) == "True") return true;
  }
  return false;
}

// The version objects are stored at: the one every owner reference written by a controller of
// this kind most likely names, and the one the apiserver serves every object as.
std::string StorageVersion(const json::Value& crd) {
  const json::Value* versions = crd.Get({"spec", "versions"});
  if (versions == nullptr || !versions->is_array()) return "";
  for (const json::Value& v : versions->as_array()) {
    const json::Value* storage = v.Find("storage");
    if (storage && storage->is_bool() && storage->as_bool()) return v.GetString({"name"});
  }
  return "";
}

}  // namespace

CustomKindWatcher::CustomKindWatcher(client::ApiClient& api, client::Connection connection, GarbageCollector& gc)
    : connection_(std::move(connection)), gc_(gc), crds_(api, kCustomResourceDefinitions) {
  crds_.AddHandlers({[this](const ObjectPtr& o) { Follow(*o); },
                     [this](const ObjectPtr&, const ObjectPtr& o) { Follow(*o); },
                     [this](const ObjectPtr& o) { Forget(*o); }});
}

CustomKindWatcher::~CustomKindWatcher() { Stop(); }

void CustomKindWatcher::Start() { crds_.Start(); }

void CustomKindWatcher::Stop() {
  crds_.Stop();
  // The informers use our clients: stop them before the clients go.
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [group, plural] : followed_) gc_.RemoveKind(group, plural);
  followed_.clear();
}

void CustomKindWatcher::Follow(const json::Value& crd) {
  std::string version = StorageVersion(crd);
  if (!Established(crd) || version.empty() || crd.Get({"metadata", "deletionTimestamp"})) return;
  client::Resource r;
  r.group = crd.GetString({"spec", "group"});
  r.version = version;
  r.plural = crd.GetString({"spec", "names", "plural"});
  r.kind = crd.GetString({"spec", "names", "kind"});
  r.namespaced = crd.GetString({"spec", "scope"}) != "Cluster";
  if (gc_.Watches(r.group, r.plural)) return;
  client::ApiClient* api;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = clients_[r.plural + "." + r.group];
    if (!slot) slot = client::ApiClient::Connect(connection_);
    api = slot.get();
    followed_.insert({r.group, r.plural});
  }
  auto informer = std::make_shared<Informer>(*api, r);
  gc_.AddKind(WatchedKind{r, informer.get(), informer});
}

void CustomKindWatcher::Forget(const json::Value& crd) {
  gc_.RemoveKind(crd.GetString({"spec", "group"}), crd.GetString({"spec", "names", "plural"}));
}

}  // namespace berth::controllers::builtin
