#include "controllers/builtin/namespace/namespace_controller.h"

#include "core/log/log.h"

namespace berth::controllers::builtin {

NamespaceController::NamespaceController(client::ApiClient& api, Informer& namespaces,
                                         std::vector<client::Resource> contents,
                                         const Clock& clock)
    : api_(api), namespaces_(namespaces), contents_(std::move(contents)), controller_("namespace", *this, clock, 1) {
  auto enqueue = [this](const ObjectPtr& ns) {
    if (ns->Get({"metadata", "deletionTimestamp"})) controller_.Enqueue(Informer::KeyOf(*ns));
  };
  namespaces_.AddHandlers({enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& ns) { enqueue(ns); }, nullptr});
}

absl::StatusOr<Result> NamespaceController::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr ns = namespaces_.Get(request.Key());
  if (ns == nullptr || ns->Get({"metadata", "deletionTimestamp"}) == nullptr) return Result{};
  const std::string name = ns->GetString({"metadata", "name"});
  size_t remaining = 0;
  for (const client::Resource& r : contents_) {
    // A live list: the cache may not have seen what was created just before the deletion.
    auto list = api_.List(r, name);
    if (!list.ok()) return list.status();
    for (const json::Value& obj : list->items) {
      ++remaining;
      if (obj.Get({"metadata", "deletionTimestamp"})) continue;
      json::Value opts = json::Value::MakeObject();
      opts.Set("propagationPolicy", "Background");
      absl::Status s = api_.Delete(r, name, obj.GetString({"metadata", "name"}), opts);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    }
  }
  if (remaining > 0) return Result{absl::Seconds(1)};
  json::Value body = *ns;
  body.Ensure({"spec"}).Set("finalizers", json::Value::MakeArray());
  auto r = api_.UpdateSubresource(client::resources::kNamespaces, body, "finalize");
  if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  BERTH_LOG(Info, "controllers.namespace", "Namespace emptied and finalized", "namespace", name);
  return Result{};
}

}  // namespace berth::controllers::builtin
